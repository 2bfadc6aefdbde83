/**
 * The agent's typed gate on what it pulls: a zod schema of AgentDesired (src/control/desired.ts)
 * with the whole DesiredRuleset IR inside it (sets, chains, rules, matches, verdicts, hooks), then
 * the checks no schema can express (every jump and set reference resolves, families agree, no
 * compile error was published). Anything else is refused with coded diagnostics, every problem at
 * once, before a byte reaches the kernel: the agent then keeps the rules it has and reports
 * `failed`.
 *
 * Why this strict: the document crosses a network and a database the host does not control. The
 * agent never runs text it was sent (there is no field that could carry a script); and every
 * string that providers write into a kernel command (names, comments, log prefixes, interfaces,
 * protocols, addresses) is held to the same shapes the providers check (providers/common.ts), so
 * a refused document is refused here with its JSON path, not halfway through a transaction.
 */
import ipaddr from 'ipaddr.js';
import { z } from 'zod';
import type { Chain, DesiredRuleset, Family } from '../compile/ir';
import { makeDiagnostic, type Diagnostic } from '../diagnostics';
import { AGENT_DESIRED_FORMAT, type AgentDesired } from '../control/desired';
import { IR_NAME, RULE_ID, normaliseCidr } from '../../providers/common';
import { AgentCodes } from './codes';

/** Printable ASCII without quotes or backslashes: safe inside nft and iptables-restore strings (checkText). */
const SAFE_TEXT = /^[\x20-\x21\x23-\x5b\x5d-\x7e]*$/;
/** An interface name as Linux allows it (IFNAMSIZ 16 with the NUL), without shell or nft syntax. */
const IFNAME = /^[A-Za-z0-9_.:@-]{1,15}$/;
/** IP protocol names are lowercase words or numbers (/etc/protocols); nothing that can end a match. */
const PROTOCOL = /^[a-z0-9][a-z0-9-]{0,19}$/;
const ENFORCER = /^[A-Za-z0-9_.:@/-]{1,200}$/;

const text = (max: number) => z.string().max(max).regex(SAFE_TEXT, 'printable ASCII without quotes or backslashes');
const irName = z.string().regex(IR_NAME, 'an IR name ([a-z0-9-], at most 23 characters)');
const family = z.union([z.literal(4), z.literal(6)]);
const port = z.number().int().min(0).max(65535);
const portRange = z.strictObject({ from: port, to: port }).refine((r) => r.from <= r.to, 'from must not exceed to');
const icmpRange = z.strictObject({ from: z.number().int().min(0).max(255), to: z.number().int().min(0).max(255) }).refine((r) => r.from <= r.to, 'from must not exceed to');
const hostAddress = z.string().refine((a) => ipaddr.isValid(a) && !a.includes('/'), 'a single IPv4 or IPv6 address');
const cidr = z.string().superRefine((e, ctx) => {
  let canonical: string;
  try {
    canonical = normaliseCidr(e);
  } catch {
    ctx.addIssue({ code: 'custom', message: `${JSON.stringify(e)} is not a CIDR` });
    return;
  }
  if (canonical !== e) ctx.addIssue({ code: 'custom', message: `${e} is not canonical (${canonical})` });
});
const setMatch = z.strictObject({ set: irName, negate: z.boolean().optional() });

const match = z.strictObject({
  family: family.optional(),
  iif: z.string().regex(IFNAME, 'an interface name').optional(),
  oif: z.string().regex(IFNAME, 'an interface name').optional(),
  ctState: z.array(z.enum(['established', 'related', 'new', 'invalid'])).max(4).optional(),
  srcSet: setMatch.optional(),
  dstSet: setMatch.optional(),
  srcAddr: hostAddress.optional(),
  dstAddr: hostAddress.optional(),
  protocol: z.string().regex(PROTOCOL, 'an IP protocol name').optional(),
  dports: z.array(portRange).max(1024).optional(),
  icmpType: z.number().int().min(0).max(255).optional(),
  icmpCodes: z.array(icmpRange).max(256).optional(),
});

const verdict = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('accept') }),
  z.strictObject({ kind: z.literal('reject') }),
  z.strictObject({ kind: z.literal('drop') }),
  z.strictObject({ kind: z.literal('return') }),
  z.strictObject({ kind: z.literal('jump'), chain: irName }),
  z.strictObject({
    kind: z.literal('log'),
    group: z.number().int().min(0).max(65535),
    // NFLOG prefixes are capped at 63 characters by the kernel (nft at 127).
    prefix: text(63),
    limit: z.strictObject({ perSecond: z.number().int().min(1).max(1_000_000), burst: z.number().int().min(1).max(1_000_000) }).optional(),
  }),
]);

const origin = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('policy'), policy: text(200), namespace: text(200) }),
  z.strictObject({ kind: z.literal('default'), namespace: text(200), action: z.enum(['allow', 'reject']), observation: z.boolean().optional() }),
  z.strictObject({ kind: z.literal('established') }),
  z.strictObject({ kind: z.literal('neighbor-discovery') }),
  z.strictObject({ kind: z.literal('loopback') }),
  z.strictObject({ kind: z.literal('excluded-network'), profile: text(200) }),
  z.strictObject({ kind: z.literal('excluded-interface'), profile: text(200) }),
  z.strictObject({ kind: z.literal('failsafe'), profile: text(200) }),
  z.strictObject({ kind: z.literal('dispatch'), pu: text(200) }),
  z.strictObject({ kind: z.literal('host-protection'), reason: z.enum(['loopback', 'failsafe-inbound', 'failsafe-outbound']), profile: text(200).optional() }),
]);

const rule = z.strictObject({ id: z.string().regex(RULE_ID, 'a rule id ([A-Za-z0-9_-], at most 64)'), match, verdict, origin: origin.optional() });

const chain = z.strictObject({
  name: irName,
  hook: z.enum(['input', 'output', 'forward']).optional(),
  rules: z.array(rule).max(200_000),
  comment: text(120).optional(),
});

const addressSet = z.strictObject({ name: irName, family, elements: z.array(cidr).max(1_000_000), comment: text(120).optional() });

/** Compile diagnostics travel with the ruleset (plan shows them); they are data, never applied. */
const diagnostic = z.strictObject({
  severity: z.enum(['error', 'warning']),
  code: z.string().max(20),
  summary: z.string().max(10_000),
  detail: z.string().max(100_000).optional(),
  file: z.string().max(4096).optional(),
  line: z.number().int().optional(),
  column: z.number().int().optional(),
  omitted: z.strictObject({ errors: z.number().int(), warnings: z.number().int() }).optional(),
  address: z.string().max(400).optional(),
});

const placement = z.strictObject({
  pu: text(200),
  namespace: text(200),
  placement: z.enum(['local', 'forwarded']),
  source: z.enum(['pinned', 'host', 'host-protection', 'assumed']),
});

/** What plan shows for a protected host (UI only, never a kernel object). */
const hostProtection = z.strictObject({
  pu: text(200),
  namespace: text(200),
  addresses: z.array(z.string().max(64)).max(10_000),
  failsafe_inbound: z.array(text(64)).max(1000),
  failsafe_outbound: z.array(text(64)).max(1000),
  failsafe_source: z.strictObject({ inbound: z.enum(['profile', 'default']), outbound: z.enum(['profile', 'default']) }),
});

const desiredRuleset = z.strictObject({
  enforcer: z.string().regex(ENFORCER, 'an enforcer name'),
  sets: z.array(addressSet).max(100_000),
  chains: z.array(chain).max(100_000),
  diagnostics: z.array(diagnostic).max(10_000),
  placements: z.array(placement).max(100_000).optional(),
  hostProtection: hostProtection.optional(),
});

/** agentDesiredSchema is AgentDesired as zod checks it (strict: an unknown field is an error). */
export const agentDesiredSchema = z.strictObject({
  format: z.literal(AGENT_DESIRED_FORMAT),
  enforcer: z.string().regex(ENFORCER, 'an enforcer name'),
  workspace: z.string().min(1).max(200),
  lineage: z.string().max(200),
  serial: z.number().int().min(0),
  action: z.enum(['apply', 'decommission']),
  backend: z.enum(['auto', 'nftables', 'iptables-nft', 'iptables-legacy']),
  ruleset: desiredRuleset.optional(),
  published_at: z.string().max(64),
});

// The schema and the contract's types must not drift apart: each must be assignable to the other.
type Parsed = z.infer<typeof agentDesiredSchema>;
const _toContract = (p: Parsed): AgentDesired => p;
const _fromContract = (d: AgentDesired): Parsed => d;
void _toContract;
void _fromContract;

export type ParseResult = { ok: true; desired: AgentDesired } | { ok: false; diagnostics: Diagnostic[] };

/** Where a refused document came from, for the diagnostics (file: the URL and etag; no line: it is JSON). */
export interface DocumentSource {
  url?: string;
  etag?: string;
}

/**
 * parseAgentDesired checks `value` (the `desired` member of GET /v1/ruleset) and returns it typed,
 * or every problem found. `enforcer` is the name this agent's certificate is bound to.
 */
export function parseAgentDesired(value: unknown, enforcer: string, source: DocumentSource = {}): ParseResult {
  const where = `${source.url ?? 'the published document'}${source.etag ? ` (etag ${source.etag})` : ''}`;
  const diag = (code: string, summary: string, detail: string): Diagnostic => ({
    ...makeDiagnostic('error', code, summary, `${detail}\nNothing was changed on this host: it keeps the rules it enforces now.`),
    file: where,
  });
  if (typeof value === 'object' && value !== null && 'format' in value && (value as { format: unknown }).format !== AGENT_DESIRED_FORMAT) {
    const f = (value as { format: unknown }).format;
    return {
      ok: false,
      diagnostics: [diag(AgentCodes.formatUnknown, `The published document has format ${JSON.stringify(f)}, not ${AGENT_DESIRED_FORMAT}`, 'It was published by a microseg this agent does not understand: upgrade the agent.')],
    };
  }
  const parsed = agentDesiredSchema.safeParse(value);
  if (!parsed.success) {
    const issues = parsed.error.issues;
    const shown = issues.slice(0, 50).map((i) => diag(AgentCodes.documentInvalid, `Published document refused at ${pathText(i.path)}: ${i.message}`, `${i.code} at ${pathText(i.path)}.`));
    if (issues.length > shown.length) shown.push(diag(AgentCodes.documentInvalid, `…and ${issues.length - shown.length} more problems in the published document`, 'Only the first 50 are listed.'));
    return { ok: false, diagnostics: shown };
  }
  const d = parsed.data as AgentDesired;
  const out: Diagnostic[] = [];
  if (d.enforcer !== enforcer) {
    out.push(diag(AgentCodes.wrongEnforcer, `The published document is for enforcer ${JSON.stringify(d.enforcer)}, but this agent is ${JSON.stringify(enforcer)}`, 'The server serves each agent its own document; one for another host is never applied here.'));
  }
  if (d.action === 'apply' && !d.ruleset) out.push(diag(AgentCodes.documentInvalid, 'Published document refused at $.ruleset: an `apply` document must carry a ruleset', 'action is "apply" but ruleset is absent.'));
  if (d.action === 'decommission' && d.ruleset) out.push(diag(AgentCodes.documentInvalid, 'Published document refused at $.ruleset: a `decommission` document carries no ruleset', 'action is "decommission" and ruleset is present.'));
  if (d.ruleset) {
    if (d.ruleset.enforcer !== d.enforcer) out.push(diag(AgentCodes.wrongEnforcer, `The ruleset inside the document is for enforcer ${JSON.stringify(d.ruleset.enforcer)}, not ${JSON.stringify(d.enforcer)}`, 'Document and ruleset must name the same enforcer.'));
    const errors = d.ruleset.diagnostics.filter((x) => x.severity === 'error');
    if (errors.length > 0) {
      out.push(diag(AgentCodes.rulesetHasErrors, `The published ruleset carries ${errors.length} compile error(s): ${errors.slice(0, 3).map((e) => `${e.code} ${e.summary}`).join('; ')}`, 'A ruleset with compile errors blocks its host in `plan`; it is never applied.'));
    }
    out.push(...consistency(d.ruleset).map((m) => diag(AgentCodes.rulesetInconsistent, `Published ruleset refused: ${m}`, 'The IR must be self-contained: every referenced set and chain is in it, once.')));
  }
  return out.length > 0 ? { ok: false, diagnostics: out } : { ok: true, desired: d };
}

/**
 * consistency lists what makes a well-typed ruleset unusable: duplicate names, references to
 * absent sets or chains, a hook on more than one chain, a set of the other family than the rule
 * that uses it, jump cycles (the kernel refuses them, mid-transaction).
 */
export function consistency(rs: DesiredRuleset): string[] {
  const out: string[] = [];
  const sets = new Map<string, Family>();
  for (const s of rs.sets) {
    if (sets.has(s.name)) out.push(`set ${s.name} appears twice`);
    sets.set(s.name, s.family);
    for (const e of s.elements) if ((e.includes(':') ? 6 : 4) !== s.family) out.push(`set ${s.name} (ipv${s.family}) holds ${e}`);
  }
  const chains = new Map<string, Chain>();
  const hooks = new Map<string, string>();
  for (const c of rs.chains) {
    if (chains.has(c.name)) out.push(`chain ${c.name} appears twice`);
    chains.set(c.name, c);
    if (c.hook) {
      if (hooks.has(c.hook)) out.push(`hook ${c.hook} is claimed by chains ${hooks.get(c.hook)} and ${c.name}`);
      hooks.set(c.hook, c.name);
    }
  }
  for (const c of rs.chains) {
    const ids = new Set<string>();
    for (const r of c.rules) {
      const at = `rule ${r.id} in chain ${c.name}`;
      if (ids.has(r.id)) out.push(`${at} appears twice`);
      ids.add(r.id);
      const fams = new Set<Family>();
      if (r.match.family) fams.add(r.match.family);
      for (const m of [r.match.srcSet, r.match.dstSet]) {
        if (!m) continue;
        const f = sets.get(m.set);
        if (f === undefined) out.push(`${at} matches set ${m.set}, which the ruleset does not hold`);
        else fams.add(f);
      }
      for (const a of [r.match.srcAddr, r.match.dstAddr]) if (a) fams.add(a.includes(':') ? 6 : 4);
      if (r.match.protocol === 'icmp') fams.add(4);
      if (r.match.protocol === 'icmpv6') fams.add(6);
      if (fams.size > 1) out.push(`${at} mixes IPv4 and IPv6`);
      if (r.verdict.kind === 'jump') {
        const target = chains.get(r.verdict.chain);
        if (!target) out.push(`${at} jumps to chain ${r.verdict.chain}, which the ruleset does not hold`);
        else if (target.hook) out.push(`${at} jumps to hooked chain ${target.name}`);
      }
    }
  }
  const cycle = jumpCycle(rs.chains);
  if (cycle) out.push(`chains jump in a cycle: ${cycle.join(' → ')}`);
  for (const s of rs.sets) {
    if (!rs.chains.some((c) => c.rules.some((r) => r.match.srcSet?.set === s.name || r.match.dstSet?.set === s.name))) out.push(`set ${s.name} is held but no rule uses it`);
  }
  return out;
}

function jumpCycle(chains: readonly Chain[]): string[] | undefined {
  const edges = new Map(chains.map((c) => [c.name, c.rules.flatMap((r) => (r.verdict.kind === 'jump' ? [r.verdict.chain] : []))] as const));
  const state = new Map<string, 1 | 2>();
  const stack: string[] = [];
  const visit = (n: string): string[] | undefined => {
    if (state.get(n) === 2) return undefined;
    if (state.get(n) === 1) return [...stack.slice(stack.indexOf(n)), n];
    state.set(n, 1);
    stack.push(n);
    for (const m of edges.get(n) ?? []) {
      const c = visit(m);
      if (c) return c;
    }
    stack.pop();
    state.set(n, 2);
    return undefined;
  };
  for (const c of chains) {
    const found = visit(c.name);
    if (found) return found;
  }
  return undefined;
}

function pathText(path: readonly PropertyKey[]): string {
  return '$' + path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('');
}
