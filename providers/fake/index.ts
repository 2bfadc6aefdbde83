/** The fake dataplane: in-memory firewall with kernel-like checks, and a packet tracer (SPEC.md). */
export { FakeFirewall, checkRuleset, MAX_LOG_PREFIX } from './firewall';
export type { FakeFirewallOptions } from './firewall';
export { traceHost, traceConnection, MAX_JUMP_DEPTH } from '../../src/trace/tracer';
export type { Packet, TraceResult, TraceVerdict, Connection, ConnectionTrace, HostSide } from '../../src/trace/tracer';
