/**
 * The rule property (test/netns/rule-property-suite.ts) on the in-memory firewall, for every
 * backend, without root. The proof about real hosts is test/netns/rule-property.test.ts.
 */
import { defineRuleProperty } from '../../netns/rule-property-suite';
import { fakeEnv } from './reconcile-env';

for (const backend of ['nftables', 'iptables-nft', 'iptables-legacy'] as const) defineRuleProperty(backend, `fp${backend.slice(-3)}`, fakeEnv(backend));
