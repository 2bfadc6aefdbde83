/**
 * The rule property (rule-property-suite.ts) on real network namespaces, for each backend: every
 * owned kernel rule deleted, or its verdict replaced under its own comment, is drift naming it,
 * and apply repairs it.
 */
import { netnsEnv } from './reconcile-suite';
import { defineRuleProperty } from './rule-property-suite';

defineRuleProperty('nftables', 'rpn', netnsEnv('nftables'));
defineRuleProperty('iptables-nft', 'rpi', netnsEnv('iptables-nft'));
defineRuleProperty('iptables-legacy', 'rpl', netnsEnv('iptables-legacy'));
