/**
 * The reconcile suite (test/netns/reconcile-suite.ts) against the in-memory firewall, for every
 * backend, without root: the same CLI and API steps the real-kernel suites take, with the fake
 * behind the Host seam. Proof about real hosts stays with the netns suites; this one lets a
 * contributor without root exercise plan, apply, drift and decommission.
 */
import { defineReconcileSuite } from '../../netns/reconcile-suite';
import { fakeEnv } from './reconcile-env';

for (const backend of ['nftables', 'iptables-nft', 'iptables-legacy'] as const) defineReconcileSuite(backend, `fk${backend.slice(-3)}`, fakeEnv(backend));
