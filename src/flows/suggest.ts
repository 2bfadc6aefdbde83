/**
 * suggest: observed flow records → tag-based allow policies and one expectation per observed flow.
 * Pure: the records (from a saved `flows --json` document or read live by flows.ts), the model and
 * the rulesets it compiles to with observation off go in; the suggestion comes out as data that
 * suggest-hcl.ts renders and the suggest view prints.
 *
 * How flows become policies (README "microseg suggest"):
 * 1. Each record's addresses are resolved against the CURRENT configuration (the identity names a
 *    saved record carries may be stale): a PU's address, else the most specific external network.
 *    An address neither names is unsuggestable: an identity is never invented for it.
 * 2. Records collapse to distinct flows (source identity, destination identity, protocol, port);
 *    both enforcers log the same connection, so two records make one flow.
 * 3. Which flows are turned into allows: allowed, would-allow, would-reject (audit mode) and
 *    continue records, i.e. traffic that flowed. A connection the namespace default REJECTED was
 *    refused in enforcement, and may be a scan or a misconfigured client as easily as a missing
 *    policy, so it is only suggested with `includeRejected` (and marked so); one a reject policy
 *    refused is never suggested: a reject beats any allow, so the decision belongs to that policy.
 * 4. Each flow is traced through the rulesets compiled with observation off (what enforcement will
 *    decide); one already allowed needs no policy, only its expectation.
 * 5. The rest are lifted to roles: a PU's role is its namespace and user tags (replicas share one;
 *    no tag expression can tell them apart), an external network's its name. Role pairs with the
 *    same port set are merged twice, first the sources of one destination, then the destinations of
 *    one source group, so each policy allows exactly the role pairs × ports observed. A side's
 *    selector is the tags common to its PUs when those select no other PU in the policy's scope,
 *    else one clause per role; an external network is selected by its declared name. Anything a
 *    selector covers that was not observed is reported as `widened`.
 */
import type { DesiredRuleset } from '../compile/ir';
import { isWithin } from '../compile/scope';
import { addressFamily, cidrsContain, entriesToCidrs } from '../model/intervals';
import { PROTOCOL_NUMBERS } from '../model/protocols';
import { parseServicePort } from '../model/service-ports';
import type { ExternalNetwork, Model, ProcessingUnit, ServicePort } from '../model/types';
import { decidingPolicy, traceFlow } from '../trace/trace';
import type { FlowRecord } from './records';

/** SuggestCodes: the suggest helper's range MSEG9740–9769. */
export const SuggestCodes = {
  badJson: 'MSEG9740',
  badRecord: 'MSEG9741',
  emptyInput: 'MSEG9742',
  unknownEnforcer: 'MSEG9743',
  outputExists: 'MSEG9744',
  badSince: 'MSEG9745',
  badSource: 'MSEG9746',
  typescriptConfig: 'MSEG9747',
  readFailed: 'MSEG9748',
  hostFailed: 'MSEG9749',
  notVerified: 'MSEG9750',
  writeFailed: 'MSEG9751',
  nothingUsable: 'MSEG9752',
} as const;

/** An end of a flow: a processing unit or an external network of the configuration. */
export type Identity = { kind: 'processing_unit'; name: string; namespace: string } | { kind: 'external_network'; name: string; namespace: string };

/** ObservedFlow is one distinct connection seen (both enforcers' records of it count once). */
export interface ObservedFlow {
  src: string;
  dst: string;
  src_identity: string;
  dst_identity: string;
  src_kind: Identity['kind'];
  dst_kind: Identity['kind'];
  /** The connection's port as `microseg test` writes it: `tcp/8000`, `icmp/8`, `gre`. */
  port: string;
  /** Every verdict its records carried, sorted. */
  verdicts: string[];
  records: number;
  first_seen: string;
  last_seen: string;
  /** How it is covered: an existing policy already allows it, or a suggested one. */
  covered_by: { kind: 'existing'; decided_by: string } | { kind: 'suggested'; policy: string };
  /** True when it was only ever seen rejected by a namespace default (included by includeRejected). */
  rejected_by_default: boolean;
}

export interface SuggestedPolicy {
  name: string;
  namespace: string;
  propagate: boolean;
  /** Tag expressions as written: OR of AND clauses of `key=value`. */
  subject: string[][];
  object: string[][];
  ports: string[];
  apply_policy_mode: 'incoming' | 'outgoing' | 'bidirectional';
  /** Names of identities the selectors cover that were not seen on that side (informational). */
  widened: { subject: string[]; object: string[] };
  /** How many observed flows it allows. */
  flows: number;
  /** Some of its flows were only seen rejected by a namespace default. */
  from_rejected: boolean;
}

export interface SuggestedExpect {
  name: string;
  from: string;
  to: string;
  port: string;
  verdict: 'allow';
}

/** A flow left out, with why. */
export interface LeftOutFlow {
  src: string;
  dst: string;
  src_identity?: string;
  dst_identity?: string;
  protocol: string;
  port?: number;
  verdicts: string[];
  records: number;
  reason: string;
}

export interface Suggestion {
  format_version: 1;
  records: { read: number; used: number; before_since: number };
  policies: SuggestedPolicy[];
  expects: SuggestedExpect[];
  flows: ObservedFlow[];
  /** Flows no identity of the configuration can express. */
  unsuggestable: LeftOutFlow[];
  /** Flows deliberately not turned into allows (rejected ones). */
  skipped: LeftOutFlow[];
}

export interface SuggestOptions {
  /** Turn flows only ever seen rejected by a namespace default into allows too. */
  includeRejected?: boolean;
  /** Only records at or after this instant. */
  since?: Date;
}

/** parseRecordTime reads a record's time (ulogd writes `+0000` offsets, which Date.parse refuses). */
export function parseRecordTime(t: string): number {
  return Date.parse(t.replace(/([+-]\d\d)(\d\d)$/, '$1:$2'));
}

interface Resolver {
  pus: Map<string, ProcessingUnit>;
  nets: Array<{ net: ExternalNetwork; v4: string[]; v6: string[]; prefix: number }>;
}

function resolver(model: Model): Resolver {
  const pus = new Map<string, ProcessingUnit>();
  for (const pu of model.processingUnits) for (const a of pu.addresses) pus.set(a.replace(/\/(32|128)$/, ''), pu);
  const nets = model.externalNetworks.map((net) => ({
    net,
    v4: entriesToCidrs(net.entries, 4),
    v6: entriesToCidrs(net.entries, 6),
    prefix: Math.max(0, ...net.entries.filter((e) => !e.exclude).map((e) => Number(e.cidr.split('/')[1] ?? 0))),
  }));
  // The most specific network first, as flows' own resolution does (records.ts identityOf).
  nets.sort((a, b) => b.prefix - a.prefix || (a.net.name < b.net.name ? -1 : 1));
  return { pus, nets };
}

function resolve(r: Resolver, addr: string): { pu?: ProcessingUnit; net?: ExternalNetwork } {
  const pu = r.pus.get(addr);
  if (pu) return { pu };
  const f = addressFamily(addr);
  if (f === undefined) return {};
  const hit = r.nets.find((n) => cidrsContain(f === 4 ? n.v4 : n.v6, addr));
  return hit ? { net: hit.net } : {};
}

/** connectionPort spells a record's protocol and port the way policies and expectations do, or says why it cannot. */
export function connectionPort(protocol: string, port: number | undefined): { port: string; protocol: string; number?: number } | { problem: string } {
  let proto = protocol.toLowerCase();
  if (proto === 'icmpv6') proto = 'icmp6';
  if (/^\d+$/.test(proto)) {
    const name = PROTOCOL_NUMBERS.get(Number(proto));
    if (!name) return { problem: `protocol ${proto} has no name microseg's port grammar accepts` };
    proto = name;
  }
  if (proto === 'tcp' || proto === 'udp' || proto === 'icmp' || proto === 'icmp6') {
    if (port === undefined) return { problem: `the record has no ${proto === 'tcp' || proto === 'udp' ? 'destination port' : 'ICMP type'}` };
    const text = `${proto}/${port}`;
    return parseServicePort(text).ok ? { port: text, protocol: proto, number: port } : { problem: `"${text}" is not a valid port` };
  }
  return parseServicePort(proto).ok ? { port: proto, protocol: proto } : { problem: `protocol "${protocol}" is not one microseg's port grammar accepts` };
}

/** servicePortAdmits: whether an external network's service_ports (empty = any) admit one connection port. */
function servicePortAdmits(list: readonly ServicePort[], protocol: string, n: number | undefined): boolean {
  if (list.length === 0) return true;
  return list.some((sp) => {
    if (sp.kind === 'any') return true;
    if (sp.protocol !== protocol) return false;
    if (sp.kind === 'l4') return n !== undefined && sp.ports.from <= n && n <= sp.ports.to;
    if (sp.kind === 'icmp') return sp.type === undefined || sp.type === n;
    return true;
  });
}

const USABLE = new Set(['allow', 'would-allow', 'would-reject', 'continue', 'would-continue']);

/** commonAncestor of two namespaces (`/a/b`, `/a/c` → `/a`). */
function commonAncestor(a: string, b: string): string {
  const pa = a.split('/').filter(Boolean);
  const pb = b.split('/').filter(Boolean);
  const out: string[] = [];
  for (let i = 0; i < Math.min(pa.length, pb.length) && pa[i] === pb[i]; i++) out.push(pa[i]);
  return '/' + out.join('/');
}

interface Role {
  key: string;
  kind: Identity['kind'];
  namespace: string;
  /** The clause that selects the role: its user tags, or $name for a PU without tags / a network. */
  clause: string[];
  /** User tags (empty for networks and untagged PUs). */
  tags: string[];
  members: Set<string>;
}

function puRole(pu: ProcessingUnit): Omit<Role, 'members'> {
  const tags = [...new Set(pu.tags)].sort();
  if (tags.length === 0) return { key: `p:${pu.namespace}:$name=${pu.name}`, kind: 'processing_unit', namespace: pu.namespace, clause: ['$identity=processingunit', `$name=${pu.name}`], tags };
  return { key: `p:${pu.namespace}:${JSON.stringify(tags)}`, kind: 'processing_unit', namespace: pu.namespace, clause: tags, tags };
}

function netRole(net: ExternalNetwork): Omit<Role, 'members'> {
  return { key: `x:${net.namespace}:${net.name}`, kind: 'external_network', namespace: net.namespace, clause: ['$identity=externalnetwork', `$name=${net.name}`], tags: [] };
}

/** mergePorts: one protocol's numbers as ranges (only truly consecutive ports merge: nothing unobserved is allowed). */
function mergePorts(ports: Iterable<string>): string[] {
  const byProto = new Map<string, number[]>();
  const bare: string[] = [];
  for (const p of ports) {
    const m = /^(tcp|udp)\/(\d+)$/.exec(p);
    if (!m) {
      bare.push(p);
      continue;
    }
    const l = byProto.get(m[1]) ?? [];
    l.push(Number(m[2]));
    byProto.set(m[1], l);
  }
  const out: string[] = [];
  for (const proto of [...byProto.keys()].sort()) {
    const ns = [...new Set(byProto.get(proto)!)].sort((a, b) => a - b);
    for (let i = 0; i < ns.length; ) {
      let j = i;
      while (j + 1 < ns.length && ns[j + 1] === ns[j] + 1) j++;
      out.push(j === i ? `${proto}/${ns[i]}` : `${proto}/${ns[i]}:${ns[j]}`);
      i = j + 1;
    }
  }
  const order = (s: string) => {
    const m = /^([a-z0-9]+)(?:\/(\d+))?/.exec(s)!;
    return [m[1], Number(m[2] ?? -1)] as const;
  };
  bare.sort((a, b) => {
    const [pa, na] = order(a);
    const [pb, nb] = order(b);
    return pa < pb ? -1 : pa > pb ? 1 : na - nb;
  });
  return [...out, ...[...new Set(bare)]];
}

/** selector: the tag expression for a set of roles within a policy's scope, and what else it covers. */
function selector(roles: Role[], scope: string, propagate: boolean, model: Model): { expr: string[][]; widened: string[] } {
  const pus = roles.filter((r) => r.kind === 'processing_unit');
  const nets = roles.filter((r) => r.kind === 'external_network');
  const keys = new Set(roles.map((r) => r.key));
  const visible = model.processingUnits.filter((p) => isWithin(p.namespace, scope, propagate));
  const matches = (pu: ProcessingUnit, clause: string[]) => clause.every((t) => pu.identity.includes(t));
  const clauses: string[][] = [];
  if (pus.length > 0) {
    const common = pus.every((r) => r.tags.length > 0) ? pus.slice(1).reduce((acc, r) => acc.filter((t) => r.tags.includes(t)), pus[0].tags) : [];
    const exact = common.length > 0 && visible.filter((p) => matches(p, common)).every((p) => keys.has(puRole(p).key));
    if (exact) clauses.push([...common]);
    else for (const r of pus) clauses.push([...r.clause]);
  }
  for (const r of nets) clauses.push([...r.clause]);
  const observed = new Set(roles.flatMap((r) => [...r.members]));
  const widened = visible
    .filter((p) => clauses.some((c) => matches(p, c)) && !observed.has(p.name))
    .map((p) => p.name)
    .sort();
  clauses.sort((a, b) => (a.join(',') < b.join(',') ? -1 : a.join(',') > b.join(',') ? 1 : 0));
  return { expr: clauses, widened };
}

/** readable: a name part from a selector (`app=web` → `web`; a network → its name). */
function readable(expr: string[][]): string {
  const part = (c: string[]) => {
    const name = c.find((t) => t.startsWith('$name='));
    if (name) return name.slice('$name='.length);
    return c.map((t) => t.slice(t.indexOf('=') + 1)).join('-');
  };
  const parts = expr.map(part);
  return parts.length > 2 ? `${parts.slice(0, 2).join('-or-')}-and-${parts.length - 2}-more` : parts.join('-or-');
}

function slug(s: string, max = 60): string {
  const out = s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return (out || 'flow').slice(0, max).replace(/-+$/, '');
}

function unique(base: string, taken: Set<string>): string {
  let name = base;
  for (let i = 2; taken.has(name); i++) name = `${base}-${i}`;
  taken.add(name);
  return name;
}

/**
 * suggest turns records into a suggestion. `enforcing` are the model's rulesets compiled with
 * observation off (observationOff), so "already allowed" means allowed once audit mode ends.
 */
export function suggest(records: readonly FlowRecord[], model: Model, enforcing: readonly DesiredRuleset[], opts: SuggestOptions = {}): Suggestion {
  const r = resolver(model);
  const sinceMs = opts.since?.getTime();
  let beforeSince = 0;
  const kept = records.filter((rec) => {
    if (sinceMs === undefined) return true;
    const t = parseRecordTime(rec.time);
    // A record whose time cannot be read is kept: dropping it would hide traffic.
    if (!Number.isNaN(t) && t < sinceMs) {
      beforeSince++;
      return false;
    }
    return true;
  });

  interface Acc {
    src: string;
    dst: string;
    srcId?: { pu?: ProcessingUnit; net?: ExternalNetwork };
    dstId?: { pu?: ProcessingUnit; net?: ExternalNetwork };
    protocol: string;
    port?: number;
    conn?: { port: string; protocol: string; number?: number };
    problem?: string;
    verdicts: Set<string>;
    records: number;
    first: string;
    last: string;
    usable: boolean;
    policyReject?: string;
    defaultReject: boolean;
  }
  const byFlow = new Map<string, Acc>();
  for (const rec of kept) {
    const s = resolve(r, rec.src);
    const d = resolve(r, rec.dst);
    const idText = (x: { pu?: ProcessingUnit; net?: ExternalNetwork }, addr: string) => (x.pu ? `p:${x.pu.name}` : x.net ? `x:${x.net.name}` : `a:${addr}`);
    const conn = connectionPort(rec.protocol, rec.port);
    const key = JSON.stringify([idText(s, rec.src), idText(d, rec.dst), 'port' in conn ? conn.port : `${rec.protocol}/${rec.port ?? ''}`]);
    let a = byFlow.get(key);
    if (!a) {
      a = { src: rec.src, dst: rec.dst, srcId: s, dstId: d, protocol: rec.protocol, port: rec.port, verdicts: new Set(), records: 0, first: rec.time, last: rec.time, usable: false, defaultReject: false };
      if ('port' in conn) a.conn = conn;
      else a.problem = conn.problem;
      byFlow.set(key, a);
    }
    // The expectation names a network end by one address: the smallest seen, so reruns agree.
    if (rec.src < a.src) a.src = rec.src;
    if (rec.dst < a.dst) a.dst = rec.dst;
    a.records++;
    a.verdicts.add(rec.verdict);
    if (rec.time < a.first) a.first = rec.time;
    if (rec.time > a.last) a.last = rec.time;
    if (USABLE.has(rec.verdict)) a.usable = true;
    else if (rec.verdict === 'reject' && !rec.default) a.policyReject = rec.policy;
    else if (rec.verdict === 'reject') a.defaultReject = true;
  }

  const unsuggestable: LeftOutFlow[] = [];
  const skipped: LeftOutFlow[] = [];
  const leftOut = (a: Acc, reason: string): LeftOutFlow => ({
    src: a.src,
    dst: a.dst,
    ...(a.srcId?.pu || a.srcId?.net ? { src_identity: (a.srcId.pu ?? a.srcId.net)!.name } : {}),
    ...(a.dstId?.pu || a.dstId?.net ? { dst_identity: (a.dstId.pu ?? a.dstId.net)!.name } : {}),
    protocol: a.protocol,
    ...(a.port !== undefined ? { port: a.port } : {}),
    verdicts: [...a.verdicts].sort(),
    records: a.records,
    reason,
  });

  interface Candidate {
    acc: Acc;
    flow: ObservedFlow;
    src: Omit<Role, 'members'>;
    dst: Omit<Role, 'members'>;
    srcName: string;
    dstName: string;
  }
  const candidates: Candidate[] = [];
  const flows: ObservedFlow[] = [];
  const ordered = [...byFlow.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v);
  for (const a of ordered) {
    const s = a.srcId!;
    const d = a.dstId!;
    if (!s.pu && !s.net) {
      unsuggestable.push(leftOut(a, `source ${a.src} is no processing unit's address and in no external network of the configuration`));
      continue;
    }
    if (!d.pu && !d.net) {
      unsuggestable.push(leftOut(a, `destination ${a.dst} is no processing unit's address and in no external network of the configuration`));
      continue;
    }
    if (!s.pu && !d.pu) {
      unsuggestable.push(leftOut(a, 'neither end is a processing unit: no enforcer decides this connection'));
      continue;
    }
    if (a.problem || !a.conn) {
      unsuggestable.push(leftOut(a, a.problem ?? 'no port'));
      continue;
    }
    const conn = a.conn;
    const net = s.net ?? d.net;
    if (net && !servicePortAdmits(net.servicePorts, conn.protocol, conn.number)) {
      unsuggestable.push(leftOut(a, `external network ${net.name}'s service_ports do not include ${conn.port}, so no policy can allow it (add the port to its service_ports)`));
      continue;
    }
    if (!a.usable && a.policyReject) {
      skipped.push(leftOut(a, `rejected by ${a.policyReject}: a matching reject beats any allow, so change that policy if the connection is wanted`));
      continue;
    }
    const rejectedByDefault = !a.usable;
    if (rejectedByDefault && !opts.includeRejected) {
      skipped.push(leftOut(a, 'rejected by the namespace default when observed (it may be unwanted traffic); pass --include-rejected to suggest an allow for it'));
      continue;
    }
    const srcName = s.pu ? s.pu.name : a.src;
    const dstName = d.pu ? d.pu.name : a.dst;
    const traced = traceFlow(model, enforcing, { from: srcName, to: dstName, port: conn.port });
    const already = traced.trace?.verdict === 'allow';
    const flow: ObservedFlow = {
      src: a.src,
      dst: a.dst,
      src_identity: (s.pu ?? s.net)!.name,
      dst_identity: (d.pu ?? d.net)!.name,
      src_kind: s.pu ? 'processing_unit' : 'external_network',
      dst_kind: d.pu ? 'processing_unit' : 'external_network',
      port: conn.port,
      verdicts: [...a.verdicts].sort(),
      records: a.records,
      first_seen: a.first,
      last_seen: a.last,
      covered_by: already ? { kind: 'existing', decided_by: decidingPolicy(traced.trace!) ?? 'the enforcer profile or a namespace default' } : { kind: 'suggested', policy: '' },
      rejected_by_default: rejectedByDefault,
    };
    flows.push(flow);
    if (!already) candidates.push({ acc: a, flow, src: s.pu ? puRole(s.pu) : netRole(s.net!), dst: d.pu ? puRole(d.pu) : netRole(d.net!), srcName, dstName });
  }

  // Roles and the ports seen between each pair of roles.
  const roles = new Map<string, Role>();
  const role = (x: Omit<Role, 'members'>, member: string) => {
    let got = roles.get(x.key);
    if (!got) roles.set(x.key, (got = { ...x, members: new Set() }));
    got.members.add(member);
    return got;
  };
  const pairPorts = new Map<string, { src: Role; dst: Role; ports: Set<string>; flows: Candidate[] }>();
  for (const c of candidates) {
    const sr = role(c.src, c.flow.src_identity);
    const dr = role(c.dst, c.flow.dst_identity);
    const k = JSON.stringify([sr.key, dr.key]);
    const pp = pairPorts.get(k) ?? { src: sr, dst: dr, ports: new Set<string>(), flows: [] };
    pp.ports.add(c.flow.port);
    pp.flows.push(c);
    pairPorts.set(k, pp);
  }
  // Merge 1: per destination role and port set, the source roles.
  const bySrcSet = new Map<string, { dst: Role; srcs: Role[]; ports: string[]; flows: Candidate[] }>();
  for (const pp of [...pairPorts.values()].sort((a, b) => (a.src.key + a.dst.key < b.src.key + b.dst.key ? -1 : 1))) {
    const ports = mergePorts(pp.ports);
    const k = JSON.stringify([pp.dst.key, ports, pp.src.kind]);
    const g = bySrcSet.get(k) ?? { dst: pp.dst, srcs: [], ports, flows: [] };
    g.srcs.push(pp.src);
    g.flows.push(...pp.flows);
    bySrcSet.set(k, g);
  }
  // Merge 2: per source-role set and port set, the destination roles. A policy's scope must see
  // both sides, so the common ancestor namespace of all its roles is part of the key.
  const groups = new Map<string, { srcs: Role[]; dsts: Role[]; ports: string[]; flows: Candidate[] }>();
  for (const g of bySrcSet.values()) {
    const srcKeys = g.srcs.map((x) => x.key).sort();
    const k = JSON.stringify([srcKeys, g.ports, g.dst.kind]);
    const got = groups.get(k) ?? { srcs: g.srcs, dsts: [], ports: g.ports, flows: [] };
    got.dsts.push(g.dst);
    got.flows.push(...g.flows);
    groups.set(k, got);
  }

  const drafts = [...groups.values()].map((g) => {
    const all = [...g.srcs, ...g.dsts];
    const namespace = all.map((x) => x.namespace).reduce(commonAncestor);
    const propagate = all.some((x) => x.namespace !== namespace);
    const subj = selector(g.srcs, namespace, propagate, model);
    const obj = selector(g.dsts, namespace, propagate, model);
    const srcNet = g.srcs.some((x) => x.kind === 'external_network');
    const dstNet = g.dsts.some((x) => x.kind === 'external_network');
    // A network end has no enforcer: only the PU's side can decide.
    const mode: SuggestedPolicy['apply_policy_mode'] = srcNet ? 'incoming' : dstNet ? 'outgoing' : 'bidirectional';
    return { g, namespace, propagate, subj, obj, mode };
  });
  drafts.sort((a, b) => {
    const ka = JSON.stringify([readable(a.subj.expr), readable(a.obj.expr), a.subj.expr, a.obj.expr, a.g.ports]);
    const kb = JSON.stringify([readable(b.subj.expr), readable(b.obj.expr), b.subj.expr, b.obj.expr, b.g.ports]);
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  });

  const takenPolicies = new Set(model.networkPolicies.map((p) => p.name));
  const policies: SuggestedPolicy[] = drafts.map((d) => {
    const name = unique(slug(`allow-${readable(d.subj.expr)}-to-${readable(d.obj.expr)}`), takenPolicies);
    for (const c of d.g.flows) c.flow.covered_by = { kind: 'suggested', policy: name };
    return {
      name,
      namespace: d.namespace,
      propagate: d.propagate,
      subject: d.subj.expr,
      object: d.obj.expr,
      ports: d.g.ports,
      apply_policy_mode: d.mode,
      widened: { subject: d.subj.widened, object: d.obj.widened },
      flows: d.g.flows.length,
      from_rejected: d.g.flows.some((c) => c.flow.rejected_by_default),
    };
  });

  const takenExpects = new Set(model.expects.map((e) => e.name));
  const expects: SuggestedExpect[] = flows.map((f) => {
    const from = f.src_kind === 'processing_unit' ? f.src_identity : f.src;
    const to = f.dst_kind === 'processing_unit' ? f.dst_identity : f.dst;
    return { name: unique(slug(`observed-${f.src_identity}-to-${f.dst_identity}-${f.port}`, 80), takenExpects), from, to, port: f.port, verdict: 'allow' };
  });

  return { format_version: 1, records: { read: records.length, used: kept.length, before_since: beforeSince }, policies, expects, flows, unsuggestable, skipped };
}

/**
 * observationOff: the model as enforcement sees it once its namespaces leave audit mode. A policy's
 * own observation_enabled stays: that policy only logs until its author says otherwise, so a flow
 * it would allow still gets a suggested allow.
 */
export function observationOff(model: Model): Model {
  return { ...model, namespaces: model.namespaces.map((n) => ({ ...n, observationEnabled: false })) };
}
