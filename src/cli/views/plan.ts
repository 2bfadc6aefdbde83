/**
 * Views of a Plan (PRACTICES 10–11). `--json` is the versioned Plan document itself; the human
 * rendering below reads nothing but that same data, so the two can never disagree.
 *
 * Human output is concise: resource changes with Terraform's symbols (`+ ~ - -/+`), then per host
 * the chain, rule, set, member and hook changes, drift and orphans. Unchanged hosts are counted,
 * not listed.
 */
import type { ChainChange, HostPlan, Plan, ResourceChange, SetChange, TokenPlan } from '../../plan/types';
import type { Io } from '../io';
import type { Diagnostic } from '../../diagnostics';
import { ApplyCodes } from '../../plan/reconciler-codes';
import { providerFor } from '../../../providers';
import type { View } from './view';
import { capList, plural, styleFor, type Style } from './style';

export const RESOURCE_SYMBOL: Record<ResourceChange['action'], string> = { create: '+', update: '~', delete: '-', replace: '-/+', noop: ' ' };

/**
 * configFailure reports a planRun that stopped at the configuration (no host contacted): every
 * diagnostic; for people, without MSEG8209 (what the closing line says) and with that line.
 */
export function configFailure(view: View, r: { diagnostics: readonly Diagnostic[]; sources: ReadonlyMap<string, string> }): number {
  const shown = view.json ? r.diagnostics : r.diagnostics.filter((d) => d.code !== ApplyCodes.invalidConfig);
  return view.fail(shown, 'The configuration is invalid: {count}. No host was contacted.', r.sources);
}

/** planJson is the `--json` document: the Plan, unchanged. */
export function planJson(plan: Plan): string {
  return JSON.stringify(plan, null, 2) + '\n';
}

/** renderPlanHuman writes the plan for people; `refreshOnly` shows drift and orphans only. */
export function renderPlanHuman(io: Io, plan: Plan, opts: { refreshOnly?: boolean; explain?: boolean } = {}): void {
  const st = styleFor(io);
  const lines: string[] = [];
  const sym = (action: string, text: string) => colourBy(st, action)(text);

  if (!opts.refreshOnly) {
    const rc = plan.resource_changes.filter((c) => c.action !== 'noop');
    if (rc.length > 0) {
      lines.push(st.bold('Resource changes:'));
      for (const c of rc) lines.push(`  ${sym(c.action, RESOURCE_SYMBOL[c.action].padEnd(3))} ${c.address}${c.action === 'replace' ? st.dim(` (namespace ${c.before?.namespace} → ${c.after?.namespace})`) : ''}`);
      lines.push('');
    }
    const tk = (plan.tokens ?? []).filter((t) => t.action !== 'noop');
    if (tk.length > 0) {
      lines.push(st.bold('Enforcer tokens (control store):'));
      for (const t of tk) lines.push(`  ${tokenLine(t, st)}`);
      lines.push('');
    }
  }

  let unchanged = 0;
  for (const h of plan.hosts) {
    const body = opts.refreshOnly ? driftLines(h, st) : hostLines(h, st);
    // A host with workloads behind it is listed even unchanged: where each PU is enforced is news.
    const forwarded = !opts.refreshOnly && (h.placements ?? []).some((p) => p.placement === 'forwarded');
    if (body.length === 0 && !forwarded && h.reachable && !h.blocked_by?.length && (opts.refreshOnly || h.action === 'noop')) {
      unchanged++;
      continue;
    }
    lines.push(hostHeader(h, st, opts.refreshOnly ?? false));
    if (!opts.refreshOnly) lines.push(...hostProtectionLines(h, st).map((l) => `  ${l}`), ...placementLines(h, st).map((l) => `  ${l}`));
    lines.push(...body.map((l) => `  ${l}`));
    lines.push('');
  }

  if (!opts.refreshOnly && plan.explain !== undefined) lines.push(...explainLines(plan, st), '');
  else if (!opts.refreshOnly && opts.explain) lines.push(st.dim('Connections whose verdict changes: nothing was fully applied yet, so there is nothing to compare with.'), '');

  const summary = opts.refreshOnly ? refreshSummary(plan) : planSummary(plan);
  if (unchanged > 0) lines.push(st.dim(`${plural(unchanged, 'host')} unchanged.`));
  lines.push(summary);
  io.out(lines.join('\n') + '\n');
}

/** tokenLine says what apply does to one enforcer_token in the control store. */
export function tokenLine(t: TokenPlan, st: Style): string {
  const terms = t.terms ? st.dim(` (networks ${t.terms.networks.join(',') || 'any'}, quota ${t.terms.quota || 'none'}, valid ${t.terms.validity})`) : '';
  switch (t.action) {
    case 'create':
      return `${st.green('+')}   ${t.address}: new token; its secret is written once to a mode-0600 file under --token-dir${terms}`;
    case 'update':
      return `${st.yellow('~')}   ${t.address}: token ${t.id} changes ${(t.changed ?? []).join(', ')}; same secret${terms}`;
    case 'revoke':
      return `${st.red('-')}   ${t.address}: token ${t.id} revoked; registrations with it are refused`;
    default:
      return `    ${t.address}: token ${t.id}`;
  }
}

/** hostHeader is a host's one-line verdict (human and Markdown views). */
export function hostHeader(h: HostPlan, st: Style, refreshOnly: boolean): string {
  const name = st.bold(`enforcer ${h.enforcer}`);
  const backend = st.dim(`(${h.backend}${h.previous_backend ? `, was ${h.previous_backend}` : ''})`);
  if (!h.reachable) {
    return h.action === 'cleanup-pending'
      ? `${st.yellow('!')} ${name} ${backend}: unreachable, cleanup pending (stays in state until it succeeds)`
      : `${st.red('!')} ${name} ${backend}: unreachable, not planned`;
  }
  if (refreshOnly) return `${st.yellow('!')} ${name} ${backend}: changed outside microseg`;
  if (h.blocked_by && h.blocked_by.length > 0) {
    return `${st.red('!')} ${name} ${backend}: will NOT be applied (keeps its current rules): ${h.blocked_by.map((b) => b.summary).join('; ')}`;
  }
  if (h.agent) {
    switch (h.action) {
      case 'create':
      case 'update':
        return `${st.yellow('~')} ${name} ${backend} will be published to its agent (apply waits for it to report the ruleset applied)`;
      case 'delete':
        return `${st.red('-')} ${name} ${backend} will be decommissioned by its agent (apply waits for it to report clean, then revokes its certificate)`;
      default:
        return `  ${name} ${backend} (agent)`;
    }
  }
  switch (h.action) {
    case 'create':
      return `${st.green('+')} ${name} ${backend} will be programmed`;
    case 'update':
      return `${st.yellow('~')} ${name} ${backend} will be updated`;
    case 'delete':
      return `${st.red('-')} ${name} ${backend} will be decommissioned: every owned object removed`;
    default:
      return `  ${name} ${backend}`;
  }
}

/** hostLines lists a host's chain, rule, set, member and hook changes, drift and orphans. */
export function hostLines(h: HostPlan, st: Style): string[] {
  const out: string[] = [];
  const creating = h.action === 'create';
  for (const c of h.chains) out.push(...chainLines(c, st, creating));
  for (const s of h.sets) out.push(...setLines(s, st, creating));
  for (const k of h.hooks) {
    const symbol = k.action === 'create' ? st.green('+') : k.action === 'delete' ? st.red('-') : st.yellow('~');
    out.push(`${symbol} hook ${k.hook}/ipv${k.family}${k.reason !== 'missing' ? ` (${k.reason})` : ''}`);
  }
  out.push(...agentLines(h, st));
  out.push(...driftLines(h, st));
  return out;
}

/** agentLines: what the control store says of an agent enforcer (its last report and publication). */
export function agentLines(h: HostPlan, st: Style): string[] {
  const a = h.agent;
  if (!a) return [];
  const r = a.report;
  const out = [
    r
      ? `agent: last seen ${r.seen_at}, status ${r.status}${r.etag === a.published_etag ? '' : ` (about etag ${r.etag || 'none'}, not the last published)`}, live fingerprint ${r.live_fingerprint || '(none)'}` +
        `${r.agent_version ? `, agent ${r.agent_version}` : ''}`
      : 'agent: has never reported',
  ];
  if (r?.error) out.push(st.red(`  error ${r.error.code}: ${r.error.message}`));
  out.push(st.dim(a.published_etag ? `  last published ${a.published_action} etag ${a.published_etag} at ${a.published_at}${a.converged ? ', converged' : ', not converged'}` : '  nothing published yet'));
  return out;
}

function chainLines(c: ChainChange, st: Style, brief: boolean): string[] {
  if (c.action === 'create') return [`${st.green('+')} chain ${c.name} ${st.dim(`(${plural(c.rules_added.length, 'rule')})`)}`];
  if (c.action === 'delete') return [`${st.red('-')} chain ${c.name} ${st.dim(`(${plural(c.rules_removed.length, 'rule')})`)}`];
  const what: string[] = [];
  if (c.rules_added.length) what.push(`+${plural(c.rules_added.length, 'rule')}`);
  if (c.rules_removed.length) what.push(`-${plural(c.rules_removed.length, 'rule')}`);
  if (c.rules_changed?.length) what.push(`~${plural(c.rules_changed.length, 'rule')} changed`);
  if (c.reordered) what.push('reordered');
  if (c.foreign_rules_removed) what.push(`${plural(c.foreign_rules_removed, 'foreign rule')} removed`);
  const sym = c.action === 'replace' ? st.yellow('-/+') : st.yellow('~');
  const out = [`${sym} chain ${c.name}${what.length ? ` ${st.dim(`(${what.join(', ')})`)}` : ''}`];
  if (!brief) {
    for (const id of capList(c.rules_added)) out.push(`    ${st.green('+')} rule ${id}`);
    for (const id of capList(c.rules_removed)) out.push(`    ${st.red('-')} rule ${id}`);
    for (const id of capList(c.rules_changed ?? [])) out.push(`    ${st.yellow('~')} rule ${id} (match or verdict differs from the configuration)`);
  }
  return out;
}

function setLines(s: SetChange, st: Style, brief: boolean): string[] {
  const fam = `ipv${s.family}`;
  if (s.action === 'create') return [`${st.green('+')} set ${s.name} ${st.dim(`(${fam}, ${plural(s.added.length, 'member')})`)}`];
  if (s.action === 'delete') return [`${st.red('-')} set ${s.name} ${st.dim(`(${plural(s.removed.length, 'member')})`)}`];
  const sym = s.action === 'replace' ? st.yellow('-/+') : st.yellow('~');
  const out = [`${sym} set ${s.name} ${st.dim(`(+${s.added.length} -${s.removed.length} members)`)}`];
  if (!brief) {
    for (const m of capList(s.added)) out.push(`    ${st.green('+')} ${m}`);
    for (const m of capList(s.removed)) out.push(`    ${st.red('-')} ${m}`);
  }
  return out;
}

/**
 * placementLines: where each PU of the host is enforced (local: input/output; forwarded: forward
 * path), for hosts with workloads behind them; a host of local PUs only is enforced as it always
 * was, and `--json` carries every host's placements.
 */
export function placementLines(h: HostPlan, st: Style): string[] {
  const ps = h.placements ?? [];
  if (!ps.some((p) => p.placement === 'forwarded')) return [];
  const path = (p: string) => (p === 'local' ? 'input/output' : 'forward path');
  return [
    st.dim('placement:'),
    ...ps.map((p) => `  ${p.pu.padEnd(16)} ${p.placement.padEnd(9)} ${st.dim(`(${path(p.placement)}; ${p.source === 'host' ? 'from the host\'s addresses' : p.source === 'pinned' ? 'pinned' : p.source === 'host-protection' ? 'host protection' : 'assumed: host addresses unknown'})`)}`),
  ];
}

/**
 * hostProtectionLines: for a host with host_protection, which processing unit stands for it, the
 * addresses its policies decide, and what stays open whatever they say.
 */
export function hostProtectionLines(h: HostPlan, st: Style): string[] {
  const hp = h.host_protection;
  if (!hp) return [];
  const list = (l: string[], source: string) => `${l.length ? l.join(', ') : 'none'}${source === 'default' ? ' (default)' : ''}`;
  return [
    st.dim('host protection:'),
    `  host ${hp.pu} ${st.dim(`(${hp.namespace})`)} on ${hp.addresses.join(', ')}: policies decide the host's own input/output`,
    `  always open: loopback (lo), established/related; failsafe inbound ${list(hp.failsafe_inbound, hp.failsafe_source.inbound)}; outbound ${list(hp.failsafe_outbound, hp.failsafe_source.outbound)}`,
  ];
}

function driftLines(h: HostPlan, st: Style): string[] {
  const out: string[] = [];
  if (h.drift.length) {
    out.push(st.yellow('drift (changed outside microseg):'));
    for (const d of h.drift) out.push(`  ${st.yellow('!')} ${d.kind}: ${d.object} ${st.dim(`— ${d.detail}`)}`);
  }
  if (h.orphans.length) {
    out.push(st.yellow('orphans (our prefix, claimed by nothing; apply removes them):'));
    for (const o of h.orphans) out.push(`  ${st.red('-')} ${o.kind} ${o.name}`);
  }
  return out;
}

/** explainLines lists the connections whose verdict the plan flips (`plan --explain`). */
function explainLines(plan: Plan, st: Style): string[] {
  const flips = plan.explain ?? [];
  if (flips.length === 0) return [st.bold('Connections whose verdict changes:') + ' none'];
  const by = (p: string | null) => (p === null ? 'no rule' : p === 'default' ? 'namespace default' : `policy ${p}`);
  const out = [st.bold(`Connections whose verdict changes (${flips.length}):`)];
  for (const f of flips) {
    const colour = f.after === 'allow' ? st.green : st.red;
    out.push(`  ${f.from} → ${f.to} ${f.port}: ${f.before} → ${colour(f.after)} ${st.dim(`(${by(f.policy_before)} → ${by(f.policy_after)})`)}`);
  }
  return out;
}

/** planSummary is the plan's closing line: what apply would do, or that nothing changes. */
export function planSummary(plan: Plan): string {
  const hosts = plan.hosts;
  const n = (a: HostPlan['action']) => hosts.filter((h) => h.action === a).length;
  const rc = plan.resource_changes;
  const r = (a: ResourceChange['action']) => rc.filter((c) => c.action === a).length;
  const anything =
    rc.some((c) => c.action !== 'noop') ||
    (plan.tokens ?? []).some((t) => t.action !== 'noop') || hosts.some((h) => h.action !== 'noop' || h.drift.length > 0 || h.orphans.length > 0);
  const unreachable = hosts.filter((h) => !h.reachable && h.action === 'noop').length;
  const blocked = hosts.filter((h) => (h.blocked_by ?? []).length > 0).length;
  const tail = [
    blocked ? `${plural(blocked, 'host')} blocked` : '',
    n('cleanup-pending') ? `${plural(n('cleanup-pending'), 'host')} pending cleanup` : '',
    unreachable ? `${plural(unreachable, 'host')} unreachable` : '',
  ].filter(Boolean);
  if (!anything) return `No changes. Hosts match the configuration.${tail.length ? ` (${tail.join(', ')})` : ''}`;
  return (
    `Plan: hosts ${n('create')} to program, ${n('update')} to update, ${n('delete')} to decommission; ` +
    `resources ${r('create')} to add, ${r('update') + r('replace')} to change, ${r('delete')} to destroy.` +
    (tokenSummary(plan) ? ` ${tokenSummary(plan)}` : '') +
    (tail.length ? ` (${tail.join(', ')})` : '')
  );
}

function tokenSummary(plan: Plan): string {
  const t = plan.tokens ?? [];
  const n = (a: TokenPlan['action']) => t.filter((x) => x.action === a).length;
  if (n('create') + n('update') + n('revoke') === 0) return '';
  return `Tokens: ${n('create')} to create, ${n('update')} to update, ${n('revoke')} to revoke.`;
}

function refreshSummary(plan: Plan): string {
  const drifted = plan.hosts.filter((h) => h.drift.length > 0 || h.orphans.length > 0).length;
  return drifted === 0 ? 'No drift: every reachable host matches what microseg last applied.' : `Drift on ${plural(drifted, 'host')}.`;
}

function colourBy(st: Style, action: string): (s: string) => string {
  if (action === 'create') return st.green;
  if (action === 'delete') return st.red;
  return st.yellow;
}

/**
 * renderTransactionsHuman prints exactly what apply will run on each host of `plan`: every
 * transaction, serialised for its tool, under a header naming the host, table, kind and reason.
 */
export function renderTransactionsHuman(io: Io, plan: Plan): void {
  const st = styleFor(io);
  const hosts = plan.hosts.filter((h) => (h.transactions ?? []).length > 0);
  if (hosts.length === 0) {
    io.out('\nApply will send nothing to any host.\n');
    return;
  }
  const lines: string[] = ['', st.bold('Apply will run exactly these transactions:')];
  for (const h of hosts) {
    const txs = h.transactions!;
    lines.push('', st.bold(`enforcer ${h.enforcer}: ${plural(txs.length, 'transaction')}${h.read_scope ? `, then re-read ${plural(h.read_scope.chains.length, 'chain')} and ${plural(h.read_scope.sets.length, 'set')} and the hooks` : ''}`));
    txs.forEach((tx, i) => {
      const step = providerFor(tx.backend).serialize(tx);
      lines.push(st.dim(`# ${i + 1}/${txs.length} ${tx.backend} ${tx.table}, ${tx.kind}: ${tx.reason}`), `# ---- ${step.argv.join(' ')} <<EOF`, step.stdin.replace(/\n$/, ''), '# ---- EOF');
    });
  }
  io.out(lines.join('\n') + '\n');
}
