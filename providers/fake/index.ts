/**
 * The fake dataplane (SPEC.md): an in-memory double of hosts' firewalls behind the Host seam
 * (providers/firewall.ts), for tests. No production module imports it (test/unit/layering.test.ts).
 */
export { FakeFirewall, FakeHost, checkRuleset, MAX_LOG_PREFIX } from './firewall';
export type { FakeHostOptions, ForeignBaseChain } from './firewall';
