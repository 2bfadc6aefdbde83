/** Views of the state file (`microseg state list|show`, `microseg show` without a plan). */
import type { StateFile, StateHost, StateResource } from '../../state/types';
import { describeConnection } from '../../hosts/connection';
import type { Io } from '../io';
import { styleFor } from './style';

/** hostAddress is how a host record is addressed in `state show|rm`: `host.<enforcer>`. */
export function hostAddress(enforcer: string): string {
  return `host.${enforcer}`;
}

export function renderStateList(io: Io, state: StateFile): void {
  const lines = state.resources.map((r) => r.address);
  for (const [name, h] of Object.entries(state.hosts)) lines.push(`${hostAddress(name)}  (${h.status}, ${h.backend}, ${describeConnection(h.connection)})`);
  io.out(lines.length ? lines.join('\n') + '\n' : '');
}

export function renderStateResource(io: Io, r: StateResource): void {
  io.out([`# ${r.address}`, `type      = ${r.type}`, `name      = ${r.name}`, `namespace = ${r.namespace}`, `digest    = ${r.attributes_digest}`].join('\n') + '\n');
}

export function renderStateHost(io: Io, enforcer: string, h: StateHost): void {
  const st = styleFor(io);
  const lines = [
    st.bold(`# ${hostAddress(enforcer)}`),
    `status      = ${h.status}`,
    `backend     = ${h.backend}`,
    `connection  = ${describeConnection(h.connection)}`,
    `fingerprint = ${h.fingerprint || '(none)'}`,
    `updated_at  = ${h.updated_at}`,
  ];
  if (h.last_error) lines.push(`last_error  = ${h.last_error}`);
  lines.push(`owned: ${h.owned.chains.length} chains, ${h.owned.sets.length} sets, ${h.owned.hooks.length} hooks`);
  for (const c of h.owned.chains) lines.push(`  chain ${c.name}${c.hook ? ` (hook ${c.hook})` : ''}: ${c.ruleIds.length} rules`);
  for (const s of h.owned.sets) lines.push(`  set ${s.name} (ipv${s.family}): ${s.elements.length} members`);
  for (const k of h.owned.hooks) lines.push(`  hook ${k.hook}/ipv${k.family}`);
  io.out(lines.join('\n') + '\n');
}

export function renderStateSummary(io: Io, state: StateFile): void {
  io.out(`# state serial ${state.serial}, lineage ${state.lineage}, written by microseg ${state.microseg_version}\n`);
  renderStateList(io, state);
}
