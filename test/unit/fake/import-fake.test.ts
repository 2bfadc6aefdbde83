/**
 * The import suite (test/netns/import-suite.ts) against the in-memory firewall, without root. The
 * proof on real kernels is test/netns/import-*.test.ts.
 */
import { defineImportSuite } from '../../netns/import-suite';
import { fakeEnv } from './reconcile-env';

for (const backend of ['nftables', 'iptables-legacy'] as const) defineImportSuite(backend, `fi${backend.slice(-3)}`, fakeEnv(backend));
