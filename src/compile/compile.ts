/**
 * compile: Model → one DesiredRuleset per enforcer (DESIGN §1, §4). Pure: no I/O, and the only
 * clock is `opts.now`, so the same model and instant always give byte-identical output.
 *
 * Layout of one host's ruleset (what the iptables/nftables providers render):
 *
 *   chain `in`  (hook input):  per local PU address: dstAddr == addr → jump pu-<name>-i-<h6>
 *   chain `out` (hook output): per local PU address: srcAddr == addr → jump pu-<name>-o-<h6>
 *   chain pu-<name>-{i,o}-<h6>, in this order:
 *     1. ct state established,related → accept   (policies govern connection establishment);
 *        for PUs with IPv6 addresses, ICMPv6 neighbour solicitation/advertisement → accept;
 *        for the host PU of a protected host, iif/oif lo → accept (src/compile/host-protection.ts)
 *     2. peer ∈ excluded networks → return; iif/oif ∈ excluded interfaces → return (untouched)
 *     3. failsafe ports → accept; for the host PU, then the host's inbound (ingress chain) or
 *        outbound (egress chain) failsafe ports → accept
 *     4. non-fallback policies: continue logs and observed-reject logs, reject (log+reject),
 *        observed-allow logs, allow (log+accept)
 *     5. fallback policies, same groups
 *     6. namespace default: `reject` → reject, `allow` (discovery mode) → accept
 *
 * Rejects come before allows, so a connection matching both is rejected ("reject beats allow").
 * Fallback rules come after every non-fallback verdict, so they decide only connections no
 * non-fallback allow/reject matched. `continue` and observation policies carry no verdict, so
 * they do not stop fallback policies or the default from deciding.
 *
 * Only traffic whose local address is a PU address on this host is dispatched, so traffic of
 * non-PU addresses and loopback (127.0.0.0/8, ::1 — never dispatched, see MSEG6007) is untouched.
 * Traffic between two PUs on the same host crosses `out` for the sender and `in` for the
 * receiver, so both ends enforce.
 *
 * Forwarded PUs (workloads behind the host, src/compile/placement.ts) get the same two chains with
 * the same rules in the same order, except that every `accept` is a `return` ("microseg does not
 * refuse it"): on the forward path one packet must pass the sender's egress AND the receiver's
 * ingress inside ONE hook, and an iptables ACCEPT (or nft accept) in the first would end the hook
 * before the second is consulted. Returning instead lets the dispatch chain go on; the hook's own
 * policy and the host's other forwarding rules (Docker's, the admin's) then decide as they would
 * without microseg, so microseg only ever narrows what the host forwards. Dispatch:
 *
 *   chain `fwd` (hook forward): src == forwarded addr → jump its egress; then
 *                               dst == forwarded addr → jump its ingress
 *   chain `in`:  src == forwarded addr → its egress (a workload talking to the host itself), first
 *   chain `out`: dst == forwarded addr → its ingress (the host talking to a workload), first
 *
 * The forwarded rules come first in `in`/`out` because a local PU's chain accepts, which would end
 * the hook before the workload's side were consulted. Bridged traffic reaches the forward hook
 * only through br_netfilter (net.bridge.bridge-nf-call-iptables/ip6tables), which plan checks.
 *
 * An enforcer with no local PUs gets an empty ruleset (no sets, no chains, hence no hooks): a host
 * microseg has nothing to enforce on carries no footprint at all.
 */
import * as semver from 'semver';
import type { Diagnostic } from '../diagnostics';
import { makeDiagnostic } from '../diagnostics';
import { addressFamily, cidrFamily, cidrsContain, cidrToInterval, entriesToCidrs, entriesToIntervals, intervalsToCidrs, type Interval } from '../model/intervals';
import { expressionText, indexIdentity, SelectorIndex } from '../model/tag-match';
import type {
  Enforcer,
  EnforcerProfile,
  ExternalNetwork,
  Model,
  NetworkPolicy,
  ProcessingUnit,
} from '../model/types';
import { policyActive } from './activity';
import { failsafeDrafts, hostProtectionInfo, loopbackDrafts } from './host-protection';
import { placePu, type HostAddresses, type PuPlacement } from './placement';
import { CODES } from './codes';
import type { AddressSet, Chain, DesiredRuleset, Family, Match, Rule, RuleOrigin, Verdict } from './ir';
import {
  DISPATCH_CHAINS,
  LOG_GROUP,
  LOG_LIMIT,
  canonicalJson,
  defaultHash,
  logPrefix,
  policyHash,
  puChainName,
  ruleIdOfJson,
  setName,
} from './names';
import { intersectSpecs, isEmptySpec, specFromServicePorts, specKey, specText, specToFragments, type PortSpec } from './ports';
import { isWithin, namespaceDefaults } from './scope';

/** CompileOptions: `now` decides expiry and schedules (never the machine clock). */
export interface CompileOptions {
  now: Date;
  /**
   * The addresses each enforcer host holds, read at plan time (src/compile/placement.ts). Hosts
   * absent here (and every host offline) place unpinned PUs `local`.
   */
  hostAddresses?: HostAddresses;
}

export interface CompileResult {
  /** One per enforcer, in the model's enforcer order (sorted by name). */
  rulesets: DesiredRuleset[];
  /** Model-wide diagnostics plus every host's, deduplicated. */
  diagnostics: Diagnostic[];
}

/** MIN_SERVICE_PORTS_VERSION: enforcers older than this cannot enforce extnet service_ports (DESIGN §4). */
export const MIN_SERVICE_PORTS_VERSION = '3.12.0';

const FAMILIES: Family[] = [4, 6];
const LOOPBACK = ['127.0.0.0/8', '::1/128'];

/** Draft rule before set keys are resolved to names and the id is computed. */
interface Draft {
  match: Match;
  verdict: Verdict;
  origin: RuleOrigin;
}

/** PolicyGroups are the ordered rule buckets of one chain section (non-fallback or fallback). */
/**
 * An observation policy logs where its verdict would have decided, so it records what it would
 * do: an observed reject before every reject and allow (it would refuse all it matches), an
 * observed allow after the rejects and before the allows (reject beats allow, so what a reject
 * refuses it would not have allowed). Logging after the allows, as before, missed exactly the
 * traffic someone puts a reject in observation to find: what the allows let through today.
 */
interface Section {
  continueLogs: Draft[];
  observedRejects: Draft[];
  rejects: Draft[];
  observedAllows: Draft[];
  allows: Draft[];
}
const newSection = (): Section => ({ continueLogs: [], observedRejects: [], rejects: [], observedAllows: [], allows: [] });
const flatten = (s: Section): Draft[] => [...s.continueLogs, ...s.observedRejects, ...s.rejects, ...s.observedAllows, ...s.allows];

/**
 * Pre-indexed model: identities indexed once, policies in force at `now`, and for every PU the
 * policies that apply to it. Everything here is independent of the host, so it is computed once
 * per compile and the per-host work only walks each local PU's own policies.
 */
interface Ctx {
  model: Model;
  /** Inverted tag indexes over model.processingUnits and model.externalNetworks (same order). */
  puSelector: SelectorIndex;
  netSelector: SelectorIndex;
  policies: NetworkPolicy[];
  /** PUs in scope that a policy's subject / object selects (before negation), in model order. */
  selectedCache: Map<NetworkPolicy, { subject?: ProcessingUnit[]; object?: ProcessingUnit[] }>;
  /**
   * For each PU, the policies whose local side (object for ingress `i`, subject for egress `o`)
   * applies to it, in ctx.policies order: the order puChain emits them in. PUs no policy applies
   * to are absent.
   */
  localPolicies: Map<ProcessingUnit, Record<'i' | 'o', NetworkPolicy[]>>;
  /** Peer resolution per (policy, direction): independent of host and local PU, so computed once. */
  peerCache: Map<NetworkPolicy, Partial<Record<'i' | 'o', PeerResolution>>>;
  /** Address intervals of each PU / external network per family, parsed once however many policies select it. */
  intervalCache: Map<ProcessingUnit | ExternalNetwork, Record<Family, Interval[]>>;
  policyParts: Map<NetworkPolicy, Record<string, PolicyParts>>;
  /**
   * Peer set members by set key. The key says what the set stands for (scope, expression, ports),
   * which determines its members, so policies that differ only in name or action share them.
   */
  elementsCache: Map<string, string[]>;
  /** The members of each elements array joined with `,` (arrays are shared via elementsCache), for SetRegistry.finish's merge by members. */
  membersKeyCache: Map<string[], string>;
}

/** compile turns a validated model into every enforcer's desired ruleset (see module comment). */
export function compile(model: Model, opts: CompileOptions): CompileResult {
  const global: Diagnostic[] = [];
  const policies: NetworkPolicy[] = [];
  for (const p of [...model.networkPolicies].sort((a, b) => cmp(a.name, b.name) || cmp(a.namespace, b.namespace))) {
    const r = policyActive(p, opts.now);
    global.push(...r.diagnostics);
    if (r.active) policies.push(p);
  }
  const enforcerNames = new Set(model.enforcers.map((e) => e.name));
  for (const pu of model.processingUnits) {
    if (!enforcerNames.has(pu.enforcer)) {
      global.push(
        makeDiagnostic('warning', CODES.UNKNOWN_ENFORCER, `${pu.address} names enforcer "${pu.enforcer}", which does not exist`,
          'Its addresses are still used as a peer of other PUs, but no host enforces its own traffic.', pu.pos),
      );
    }
  }
  const ctx: Ctx = {
    model,
    puSelector: new SelectorIndex(model.processingUnits.map((p) => indexIdentity(p.identity))),
    netSelector: new SelectorIndex(model.externalNetworks.map((n) => indexIdentity(n.identity))),
    policies,
    selectedCache: new Map(),
    localPolicies: new Map(),
    peerCache: new Map(),
    intervalCache: new Map(),
    policyParts: new Map(),
    elementsCache: new Map(),
    membersKeyCache: new Map(),
  };
  indexLocalPolicies(ctx);
  const rulesets = model.enforcers.map((e) => compileHost(ctx, e, opts.hostAddresses?.get(e.name)));
  for (const r of rulesets) global.push(...r.diagnostics);
  return { rulesets, diagnostics: dedupeDiagnostics(global) };
}

/**
 * indexLocalPolicies fills ctx.localPolicies (the inverted index of "which policies apply to this
 * PU"). Same test as a scan of every policy for every PU: the direction's apply mode, the PU in the
 * policy's scope, and the local expression matching XOR its negate flag. Walking ctx.policies in
 * order keeps every PU's lists in that order.
 */
function indexLocalPolicies(ctx: Ctx): void {
  for (const pol of ctx.policies) {
    for (const dir of ['i', 'o'] as const) {
      if (dir === 'i' && pol.applyPolicyMode === 'outgoing') continue;
      if (dir === 'o' && pol.applyPolicyMode === 'incoming') continue;
      const selected = selectedPus(ctx, pol, dir === 'i' ? 'object' : 'subject');
      const negate = dir === 'i' ? pol.negateObject : pol.negateSubject;
      let applies = selected;
      if (negate) {
        const excluded = new Set(selected);
        applies = ctx.model.processingUnits.filter((p) => isWithin(p.namespace, pol.namespace, pol.propagate) && !excluded.has(p));
      }
      for (const pu of applies) {
        let lists = ctx.localPolicies.get(pu);
        if (!lists) {
          lists = { i: [], o: [] };
          ctx.localPolicies.set(pu, lists);
        }
        lists[dir].push(pol);
      }
    }
  }
}

/** selectedPus: the PUs in the policy's scope that its subject or object selects, in model order (memoised). */
function selectedPus(ctx: Ctx, pol: NetworkPolicy, side: 'subject' | 'object'): ProcessingUnit[] {
  let entry = ctx.selectedCache.get(pol);
  if (!entry) {
    entry = {};
    ctx.selectedCache.set(pol, entry);
  }
  const cached = entry[side];
  if (cached) return cached;
  const pus = ctx.model.processingUnits;
  const out = ctx.puSelector
    .select(pol[side])
    .map((i) => pus[i])
    .filter((p) => isWithin(p.namespace, pol.namespace, pol.propagate));
  entry[side] = out;
  return out;
}

/** setKey is a set's registry key: what the set stands for, canonically (setName hashes it). */
function setKey(kind: 'p' | 'x', keyParts: unknown, family: Family): string {
  return canonicalJson({ kind, family, keyParts });
}

/** SetRegistry collects the sets a host needs, keyed by what they stand for. */
class SetRegistry {
  constructor(private readonly membersKeyCache: Map<string[], string>) {}

  private readonly byKey = new Map<string, { kind: 'p' | 'x'; family: Family; elements: string[]; comments: Set<string> }>();

  /**
   * add registers a set under its key (from setKey, computed by the caller once per selector
   * rather than once per PU) and returns the key, used as a placeholder name until finish().
   */
  add(key: string, kind: 'p' | 'x', family: Family, elements: string[], comment: string): string {
    const prev = this.byKey.get(key);
    if (prev) prev.comments.add(comment);
    else this.byKey.set(key, { kind, family, elements, comments: new Set([comment]) });
    return key;
  }

  /**
   * finish names the sets. A set is named from its key (stable under membership churn); sets of
   * the same family with identical members are merged into one, named by the smallest of their
   * names, so two selectors that pick the same addresses share one kernel set.
   */
  finish(): { names: Map<string, string>; sets: Map<string, AddressSet> } {
    // Per family, sets by their members joined with `,`.
    const byMembers: Record<Family, Map<string, Array<{ key: string; name: string }>>> = { 4: new Map(), 6: new Map() };
    for (const [key, s] of this.byKey) {
      // Joining thousands of members per set per host is costly, and element arrays are shared across hosts.
      let m = this.membersKeyCache.get(s.elements);
      if (m === undefined) {
        m = s.elements.join(',');
        this.membersKeyCache.set(s.elements, m);
      }
      const list = byMembers[s.family].get(m) ?? [];
      list.push({ key, name: setName(s.kind, key, s.family) });
      byMembers[s.family].set(m, list);
    }
    const names = new Map<string, string>();
    const sets = new Map<string, AddressSet>();
    for (const list of FAMILIES.flatMap((f) => [...byMembers[f].values()])) {
      const name = list.map((x) => x.name).sort()[0];
      const comments = new Set<string>();
      for (const x of list) {
        names.set(x.key, name);
        for (const c of this.byKey.get(x.key)!.comments) comments.add(c);
      }
      const first = this.byKey.get(list[0].key)!;
      sets.set(name, { name, family: first.family, elements: first.elements, comment: truncate([...comments].sort().join('; '), 120) });
    }
    return { names, sets };
  }
}

function compileHost(ctx: Ctx, enf: Enforcer, held: readonly string[] | undefined): DesiredRuleset {
  const diags: Diagnostic[] = [];
  const locals = ctx.model.processingUnits
    .filter((p) => p.enforcer === enf.name)
    .sort((a, b) => cmp(a.name, b.name) || cmp(a.namespace, b.namespace));
  if (locals.length === 0) return { enforcer: enf.name, sets: [], chains: [], diagnostics: [] };

  let profile: EnforcerProfile | undefined;
  if (enf.profile !== undefined) {
    profile = ctx.model.enforcerProfiles.find((p) => p.name === enf.profile);
    if (!profile) {
      diags.push(
        makeDiagnostic('error', CODES.UNKNOWN_PROFILE, `${enf.address} names enforcer_profile "${enf.profile}", which does not exist`,
          'Declare the profile or remove the `profile` attribute.', enf.pos),
      );
    }
  }
  const old = isOldEnforcer(enf, diags);
  const sets = new SetRegistry(ctx.membersKeyCache);
  const chains: Chain[] = [];
  const drafts = new Map<string, Draft[]>();
  const dispatchIn: Draft[] = [];
  const dispatchOut: Draft[] = [];
  // Forwarded PUs' dispatch (module comment): their rules go first in `in`/`out`.
  const fwdEgress: Draft[] = [];
  const fwdIngress: Draft[] = [];
  const toHostEgress: Draft[] = [];
  const fromHostIngress: Draft[] = [];
  const placements: PuPlacement[] = [];
  const owner = new Map<string, ProcessingUnit>();
  // Which PU and direction each chain belongs to (the first PU, if two collide), for the chain comments.
  const chainOf = new Map<string, { pu: ProcessingUnit; dir: 'ingress' | 'egress' }>();
  const versionReported = new Set<string>();

  for (const pu of locals) {
    const inName = puChainName(pu, 'i');
    const outName = puChainName(pu, 'o');
    const placed = placePu(pu, held, enf.address);
    placements.push(placed.placement);
    diags.push(...placed.diagnostics);
    const forwarded = placed.placement.placement === 'forwarded';
    for (const n of [inName, outName]) {
      if (drafts.has(n)) {
        diags.push(makeDiagnostic('error', CODES.NAME_COLLISION, `Chain name ${n} collides on ${enf.address}`,
          `Two processing units hash to the same chain name; rename ${pu.address}.`, pu.pos));
      }
      if (!chainOf.has(n)) chainOf.set(n, { pu, dir: n === inName ? 'ingress' : 'egress' });
    }
    const addrs = [...pu.addresses].sort(
      (a, b) => (addressFamily(a) ?? 9) - (addressFamily(b) ?? 9) || cmp(a, b),
    );
    for (const a of addrs) {
      const family = addressFamily(a);
      if (family === undefined) continue;
      if (cidrsContain(LOOPBACK, a)) {
        diags.push(makeDiagnostic('warning', CODES.LOOPBACK_PU_ADDRESS, `${pu.address} address ${a} is a loopback address`,
          'Loopback traffic is never touched by microseg, so this address is not enforced.', pu.pos));
        continue;
      }
      const prev = owner.get(a);
      if (prev) {
        diags.push(makeDiagnostic('error', CODES.DUPLICATE_PU_ADDRESS,
          `${pu.address} and ${prev.address} share address ${a} on enforcer ${enf.name}`,
          'Dispatch by address would be ambiguous; give each processing unit its own addresses.', pu.pos));
        continue;
      }
      owner.set(a, pu);
      const origin: RuleOrigin = { kind: 'dispatch', pu: pu.name };
      const toIngress: Draft = { match: { family, dstAddr: a }, verdict: { kind: 'jump', chain: inName }, origin };
      const toEgress: Draft = { match: { family, srcAddr: a }, verdict: { kind: 'jump', chain: outName }, origin };
      if (forwarded) {
        fwdEgress.push(toEgress);
        fwdIngress.push(toIngress);
        toHostEgress.push(toEgress);
        fromHostIngress.push(toIngress);
      } else {
        dispatchIn.push(toIngress);
        dispatchOut.push(toEgress);
      }
    }
    const chainsOf = (dir: 'i' | 'o') => {
      const ds = puChain(ctx, enf, profile, pu, dir, sets, diags, old, versionReported);
      return forwarded ? ds.map(passInsteadOfAccept) : ds;
    };
    drafts.set(inName, chainsOf('i'));
    drafts.set(outName, chainsOf('o'));
  }

  const { names, sets: finalSets } = sets.finish();
  // The PU chains of a host share draft Match and Verdict objects (every PU a policy applies to
  // gets its peer groups' matches, see peerGroups), so set names are resolved and canonical JSON
  // is built once per object per host; only the rule id hash is per rule.
  const resolved = new Map<Match, { match: Match; json: string }>();
  const verdictJson = new Map<Verdict, string>();
  const tcpTwins = new Map<Match, Match>();
  const tcpCopy = (m: Match): Match => {
    let t = tcpTwins.get(m);
    if (!t) {
      t = { ...m, protocol: 'tcp' };
      tcpTwins.set(m, t);
    }
    return t;
  };
  const finalize = (name: string, ds: Draft[]): Rule[] => {
    const seen = new Set<string>();
    const rules: Rule[] = [];
    const add = (draftMatch: Match, verdict: Verdict, origin: RuleOrigin): void => {
      let r = resolved.get(draftMatch);
      if (!r) {
        const m = resolveSets(draftMatch, names);
        r = { match: m, json: canonicalJson(m) };
        resolved.set(draftMatch, r);
      }
      let vj = verdictJson.get(verdict);
      if (vj === undefined) {
        vj = canonicalJson(verdict);
        verdictJson.set(verdict, vj);
      }
      const id = ruleIdOfJson(name, r.json, vj);
      // An identical earlier rule (same match and verdict) makes this one unreachable or a duplicate log.
      if (seen.has(id)) return;
      seen.add(id);
      rules.push({ id, match: r.match, verdict, origin });
    };
    for (const d of ds) {
      if (needsTcpResetTwin(d)) add(tcpCopy(d.match), d.verdict, d.origin);
      add(d.match, d.verdict, d.origin);
    }
    return rules;
  };
  chains.push({ name: DISPATCH_CHAINS.input, hook: 'input', rules: finalize(DISPATCH_CHAINS.input, [...toHostEgress, ...dispatchIn]), comment: 'dispatch to PU ingress chains' });
  chains.push({ name: DISPATCH_CHAINS.output, hook: 'output', rules: finalize(DISPATCH_CHAINS.output, [...fromHostIngress, ...dispatchOut]), comment: 'dispatch to PU egress chains' });
  if (fwdEgress.length > 0) {
    chains.push({
      name: DISPATCH_CHAINS.forward,
      hook: 'forward',
      rules: finalize(DISPATCH_CHAINS.forward, [...fwdEgress, ...fwdIngress]),
      comment: 'dispatch forwarded traffic to workload egress then ingress chains',
    });
  }
  const puChains = [...drafts.entries()].sort((a, b) => cmp(a[0], b[0]));
  for (const [name, ds] of puChains) {
    const { pu, dir } = chainOf.get(name)!;
    chains.push({ name, rules: finalize(name, ds), comment: truncate(`${dir} of ${pu.address}`, 120) });
  }
  const referenced = new Set<string>();
  for (const c of chains)
    for (const r of c.rules) {
      if (r.match.srcSet) referenced.add(r.match.srcSet.set);
      if (r.match.dstSet) referenced.add(r.match.dstSet.set);
    }
  const outSets = [...finalSets.values()].filter((s) => referenced.has(s.name)).sort((a, b) => cmp(a.name, b.name));
  const hostPu = enf.hostProtection ? locals.find((p) => p.type === 'host') : undefined;
  return {
    enforcer: enf.name,
    sets: outSets,
    chains,
    diagnostics: dedupeDiagnostics(diags),
    placements,
    ...(hostPu ? { hostProtection: hostProtectionInfo(hostPu, profile) } : {}),
  };
}

/**
 * passInsteadOfAccept turns a forwarded PU's accept into `return` (module comment: the other end's
 * chain must still be consulted in the same hook). Shared drafts stay untouched: a new draft is
 * made only where the verdict changes.
 */
function passInsteadOfAccept(d: Draft): Draft {
  return d.verdict.kind === 'accept' ? { match: d.match, verdict: PASS, origin: d.origin } : d;
}
const PASS: Verdict = { kind: 'return' };

/**
 * needsTcpResetTwin: finalize puts a TCP-only copy (`{ ...match, protocol: 'tcp' }`) in front of a reject that matches every protocol, so TCP is
 * refused with a RST and everything else with ICMP port unreachable (providers render a tcp reject
 * as a reset). Same verdict, but the client learns it at once: Linux TCP clients treat an ICMPv6
 * port unreachable during SYN-SENT as a soft error and retransmit, so an IPv6 connect to a
 * rejected port looked like a ~1 s timeout instead of "refused" (seen on a 6.18 kernel; a RST is
 * final on every stack).
 */
function needsTcpResetTwin(d: Draft): boolean {
  return d.verdict.kind === 'reject' && d.match.protocol === undefined;
}

/** NDP_TYPES are ICMPv6 neighbour solicitation (135) and advertisement (136). */
const NDP_TYPES = [135, 136] as const;

/** puChain builds the drafts of one PU's ingress (`i`) or egress (`o`) chain, in the module-comment order. */
function puChain(
  ctx: Ctx,
  enf: Enforcer,
  profile: EnforcerProfile | undefined,
  pu: ProcessingUnit,
  dir: 'i' | 'o',
  sets: SetRegistry,
  diags: Diagnostic[],
  old: boolean,
  versionReported: Set<string>,
): Draft[] {
  const peerField: 'srcSet' | 'dstSet' = dir === 'i' ? 'srcSet' : 'dstSet';
  const out: Draft[] = [{ match: { ctState: ['established', 'related'] }, verdict: { kind: 'accept' }, origin: { kind: 'established' } }];
  // IPv6 neighbour discovery must pass before any policy: conntrack does not track NS/NA
  // (types 135/136), so `established,related` never matches them, and a PU whose own neighbour
  // advertisements hit the default reject can never be resolved by its peers — every IPv6
  // connection to it would time out, allowed or not (seen on a 6.18 kernel, both backends).
  // IPv4 needs nothing alike: ARP is not IP and never reaches these hooks.
  if (pu.addresses.some((a) => addressFamily(a) === 6)) {
    for (const icmpType of NDP_TYPES) {
      out.push({ match: { family: 6, protocol: 'icmpv6', icmpType }, verdict: { kind: 'accept' }, origin: { kind: 'neighbor-discovery' } });
    }
  }

  const hostProtected = pu.type === 'host' && enf.hostProtection;
  if (hostProtected) out.push(...loopbackDrafts(dir));

  if (profile) {
    for (const family of FAMILIES) {
      const elements = entriesToCidrs(profile.excludedNetworks, family);
      if (elements.length === 0) continue;
      const key = sets.add(setKey('x', { profile: profile.name }, family), 'x', family, elements, `excluded networks of profile ${profile.name}`);
      out.push({ match: { family, [peerField]: { set: key } }, verdict: { kind: 'return' }, origin: { kind: 'excluded-network', profile: profile.name } });
    }
    for (const iface of [...profile.excludedInterfaces].sort()) {
      out.push({
        match: dir === 'i' ? { iif: iface } : { oif: iface },
        verdict: { kind: 'return' },
        origin: { kind: 'excluded-interface', profile: profile.name },
      });
    }
    // An empty failsafe list means "no failsafe ports", not "any" (which [] means for policies).
    const failsafe = profile.failsafe.length === 0 ? [] : specToFragments(specFromServicePorts(profile.failsafe));
    for (const frag of failsafe) {
      out.push({ match: { ...frag }, verdict: { kind: 'accept' }, origin: { kind: 'failsafe', profile: profile.name } });
    }
  }
  if (hostProtected) out.push(...failsafeDrafts(profile, dir));

  const local = namespaceDefaults(ctx.model.namespaces, pu.namespace);
  const main = newSection();
  const fallback = newSection();
  // Only the policies that apply to this PU in this direction (ctx.localPolicies), in policy order.
  for (const pol of ctx.localPolicies.get(pu)?.[dir] ?? []) {
    const peerNeg = dir === 'i' ? pol.negateSubject : pol.negateObject;
    const section = pol.fallback ? fallback : main;
    const parts = policyParts(ctx, pol, dir, local.observationEnabled);

    const resolved = peerGroups(ctx, pol, dir);
    for (const n of resolved.ineffective) {
      diags.push(
        makeDiagnostic('warning', CODES.INEFFECTIVE_PORTS, `${pol.address} has no effect toward ${n.address}`,
          `The policy ports (${specText(specFromServicePorts(pol.ports))}) and the network's service_ports (${specText(specFromServicePorts(n.servicePorts))}) have nothing in common, so no rule is emitted for this network (enforcer ${enf.name}).`,
          pol.pos),
      );
    }
    for (const g of resolved.groups) {
      if (old && !peerNeg) {
        for (const n of g.nets) {
          if (n.servicePorts.length === 0 || versionReported.has(`${pol.address}|${n.address}`)) continue;
          versionReported.add(`${pol.address}|${n.address}`);
          diags.push(
            makeDiagnostic('error', CODES.OLD_ENFORCER_SERVICE_PORTS,
              `Enforcer ${enf.name} (version ${enf.version}) cannot enforce ${pol.address} ${dir === 'o' ? 'toward' : 'from'} ${n.address}, which uses service_ports`,
              `Enforcers older than ${MIN_SERVICE_PORTS_VERSION} ignore service_ports. Upgrade ${enf.address} to ${MIN_SERVICE_PORTS_VERSION} or later, or remove service_ports from ${n.address}.`,
              pol.pos),
          );
        }
      }
      for (const family of FAMILIES) {
        const elements = g.elements[family];
        if (elements.length === 0 && !peerNeg) continue;
        sets.add(g.setKeys[family], 'p', family, elements, g.setComment);
        for (const match of g.matches[family]) emitPolicy(section, pol, parts, match);
      }
    }
  }
  out.push(...flatten(main), ...flatten(fallback));

  const action = dir === 'i' ? local.incoming : local.outgoing;
  // Audit mode rejects nothing: the default reject logs what it would refuse and lets it through.
  const audit = local.observationEnabled && action === 'reject';
  const origin: RuleOrigin = { kind: 'default', namespace: pu.namespace, action, ...(audit ? { observation: true } : {}) };
  if (audit || local.logsEnabled) {
    const tag = audit ? 'ODR' : action === 'allow' ? 'DA' : 'DR';
    out.push({ match: {}, verdict: { kind: 'log', group: LOG_GROUP, prefix: logPrefix(defaultHash(pu.namespace), tag, dir), limit: { ...LOG_LIMIT } }, origin });
  }
  out.push({ match: {}, verdict: { kind: action === 'allow' || audit ? 'accept' : 'reject' }, origin });
  return out;
}

/**
 * PolicyParts are the origin and verdicts of a policy's rules: one object each, shared by all its
 * rules, so finalize serialises each once per host and log prefixes are hashed once per policy.
 */
interface PolicyParts {
  origin: RuleOrigin;
  /** Only logs (observation policy, or a reject policy on a PU of a namespace in audit mode). */
  observe: boolean;
  /** The log rule's verdict (observation, or logs_enabled), if any. */
  log?: Verdict;
  /** accept / reject; none for `continue` and observation policies. */
  verdict?: Verdict;
}

/**
 * policyParts builds (once per policy, direction and audit mode, memoised in ctx.policyParts) what
 * emitPolicy emits. On a PU whose namespace is in audit mode (observation_enabled) a reject policy
 * only logs `OR` (would-reject): nothing is refused there.
 */
function policyParts(ctx: Ctx, pol: NetworkPolicy, dir: 'i' | 'o', auditNamespace: boolean): PolicyParts {
  const memo = ctx.policyParts.get(pol) ?? {};
  ctx.policyParts.set(pol, memo);
  const key = `${dir}${auditNamespace ? 'a' : ''}`;
  const cached = memo[key];
  if (cached) return cached;
  const letter = pol.action === 'allow' ? 'A' : pol.action === 'reject' ? 'R' : 'C';
  const observe = pol.observationEnabled || (auditNamespace && pol.action === 'reject');
  const logTag = observe ? `O${letter}` : pol.logsEnabled ? letter : undefined;
  const parts: PolicyParts = { origin: { kind: 'policy', policy: pol.name, namespace: pol.namespace }, observe };
  if (logTag !== undefined) parts.log = { kind: 'log', group: LOG_GROUP, prefix: logPrefix(policyHash(pol), logTag, dir), limit: { ...LOG_LIMIT } };
  if (!observe && pol.action !== 'continue') parts.verdict = { kind: pol.action === 'allow' ? 'accept' : 'reject' };
  memo[key] = parts;
  return parts;
}

/**
 * emitPolicy adds one policy match to its section: an observation policy only logs (`O` + A/R/C);
 * otherwise the log rule (logs_enabled) and the verdict rule (none for `continue`).
 */
function emitPolicy(section: Section, pol: NetworkPolicy, parts: PolicyParts, match: Match): void {
  const { origin, log, verdict } = parts;
  if (parts.observe) {
    // An audited reject logs where the reject would have decided (before the allows), so a
    // connection an allow also matches is still recorded as the reject it would have met.
    const bucket = !pol.observationEnabled ? section.rejects : pol.action === 'reject' ? section.observedRejects : pol.action === 'allow' ? section.observedAllows : section.continueLogs;
    bucket.push({ match, verdict: log!, origin });
    return;
  }
  const bucket = pol.action === 'allow' ? section.allows : pol.action === 'reject' ? section.rejects : section.continueLogs;
  if (log) bucket.push({ match, verdict: log, origin });
  if (verdict) bucket.push({ match, verdict, origin });
}

/** PeerGroup: peers sharing one effective port spec, so they share one rule per protocol fragment. */
interface PeerGroup {
  key: string;
  spec: PortSpec;
  /** True when the spec is narrower than the policy's own (an extnet's service_ports intersected it). */
  narrowed: boolean;
  pus: ProcessingUnit[];
  nets: ExternalNetwork[];
  /** Canonical CIDRs of all members, per family. */
  elements: Record<Family, string[]>;
  /** The peer set's registry key per family and its comment (what it stands for), computed once per policy side. */
  setKeys: Record<Family, string>;
  setComment: string;
  /**
   * The matches of the rules toward this group per family (peer set placeholder key + one
   * specToFragments fragment each). Every local PU of the policy side emits these same objects,
   * which lets finalize serialise each once per host.
   */
  matches: Record<Family, Match[]>;
}

/** PeerResolution: the peer groups of one policy side, and the extnets dropped for empty port intersections. */
interface PeerResolution {
  groups: PeerGroup[];
  ineffective: ExternalNetwork[];
}

/**
 * peerGroups resolves the peer side of a policy to PUs and external networks in the policy's
 * scope, grouped by effective port spec. On egress toward a non-negated object (`intersectExtnets`),
 * each external network's spec is policy ports ∩ its service_ports; an empty
 * intersection drops it (the caller warns, MSEG6002). Otherwise every peer uses the policy's ports.
 * Memoised in ctx.peerCache: it depends only on the policy and side, not on the host.
 */
function peerGroups(ctx: Ctx, pol: NetworkPolicy, dir: 'i' | 'o'): PeerResolution {
  let perPolicy = ctx.peerCache.get(pol);
  if (!perPolicy) {
    perPolicy = {};
    ctx.peerCache.set(pol, perPolicy);
  }
  const cached = perPolicy[dir];
  if (cached) return cached;
  const peerNeg = dir === 'i' ? pol.negateSubject : pol.negateObject;
  const intersectExtnets = dir === 'o' && !peerNeg;
  const peerSide = dir === 'i' ? 'subject' : 'object';
  const expr = pol[peerSide];
  const policySpec = specFromServicePorts(pol.ports);
  const policySpecKey = specKey(policySpec);
  const groups = new Map<string, PeerGroup>();
  const ineffective: ExternalNetwork[] = [];
  const group = (spec: PortSpec): PeerGroup => {
    const key = specKey(spec);
    let g = groups.get(key);
    if (!g) {
      g = {
        key,
        spec,
        narrowed: key !== policySpecKey,
        pus: [],
        nets: [],
        elements: { 4: [], 6: [] },
        setKeys: { 4: '', 6: '' },
        setComment: '',
        matches: { 4: [], 6: [] },
      };
      groups.set(key, g);
    }
    return g;
  };
  group(policySpec);
  group(policySpec).pus.push(...selectedPus(ctx, pol, peerSide));
  const nets = ctx.model.externalNetworks;
  for (const n of ctx.netSelector.select(expr).map((i) => nets[i])) {
    if (!isWithin(n.namespace, pol.namespace, pol.propagate)) continue;
    if (!intersectExtnets) {
      group(policySpec).nets.push(n);
      continue;
    }
    const spec = intersectSpecs(policySpec, specFromServicePorts(n.servicePorts));
    if (isEmptySpec(spec)) ineffective.push(n);
    else group(spec).nets.push(n);
  }
  // What the peer sets stand for, not their members, so names survive identity churn (PRACTICES 6).
  const exprJson = canonicalJson(expr);
  const scope = `${pol.namespace}${pol.propagate ? ' (and below)' : ''}`;
  const peerField: 'srcSet' | 'dstSet' = dir === 'i' ? 'srcSet' : 'dstSet';
  for (const g of groups.values()) {
    g.setComment = `peers matching ${expressionText(expr)} in ${scope}${g.narrowed ? ` on ${specText(g.spec)}` : ''}`;
    for (const family of FAMILIES) {
      const key = setKey(
        'p',
        { scope: pol.namespace, propagate: pol.propagate, expr: exprJson, policyPorts: policySpecKey, group: g.key, extnetPorts: intersectExtnets },
        family,
      );
      g.setKeys[family] = key;
      // The union of the members' intervals, rendered canonically: the same CIDRs as merging
      // their addresses and entriesToCidrs strings (the output depends only on the address set).
      let elements = ctx.elementsCache.get(key);
      if (!elements) {
        elements = intervalsToCidrs(
          [...g.pus.flatMap((p) => intervalsOf(ctx, p)[family]), ...g.nets.flatMap((n) => intervalsOf(ctx, n)[family])],
          family,
        );
        ctx.elementsCache.set(key, elements);
      }
      g.elements[family] = elements;
      g.matches[family] = specToFragments(g.spec, family).map(
        (frag): Match => ({ family, [peerField]: peerNeg ? { set: key, negate: true } : { set: key }, ...frag }),
      );
    }
  }
  const result: PeerResolution = {
    groups: [...groups.values()].sort((a, b) => (a.narrowed === b.narrowed ? cmp(a.key, b.key) : a.narrowed ? 1 : -1)),
    ineffective,
  };
  perPolicy[dir] = result;
  return result;
}

/**
 * intervalsOf: a PU's addresses or an external network's admitted addresses (entries with their
 * `!` exclusions, longest-prefix match) as intervals per family, memoised in ctx.intervalCache.
 * An unparseable PU address throws, as mergeCidrs does (the model is validated before compile).
 */
function intervalsOf(ctx: Ctx, x: ProcessingUnit | ExternalNetwork): Record<Family, Interval[]> {
  const cached = ctx.intervalCache.get(x);
  if (cached) return cached;
  const out: Record<Family, Interval[]> = { 4: [], 6: [] };
  if (x.kind === 'external_network') {
    for (const family of FAMILIES) out[family] = entriesToIntervals(x.entries, family);
  } else {
    for (const a of x.addresses) {
      const family = cidrFamily(a);
      if (family === undefined) throw new Error(`not an address or CIDR: ${a}`);
      out[family].push(cidrToInterval(a, family));
    }
  }
  ctx.intervalCache.set(x, out);
  return out;
}

/** isOldEnforcer: version < 3.12 (semver, coercing `3.11` to 3.11.0); an unparseable version is MSEG6011. */
function isOldEnforcer(enf: Enforcer, diags: Diagnostic[]): boolean {
  const v = semver.valid(enf.version) ?? semver.valid(semver.coerce(enf.version));
  if (v === null) {
    diags.push(makeDiagnostic('error', CODES.BAD_VERSION, `${enf.address} version "${enf.version}" is not a version`,
      'Write a semantic version such as "3.14.0".', enf.pos));
    return false;
  }
  return semver.lt(v, MIN_SERVICE_PORTS_VERSION);
}

function resolveSets(m: Match, names: Map<string, string>): Match {
  const out: Match = { ...m };
  if (m.srcSet) out.srcSet = { ...m.srcSet, set: names.get(m.srcSet.set)! };
  if (m.dstSet) out.dstSet = { ...m.dstSet, set: names.get(m.dstSet.set)! };
  return out;
}

function dedupeDiagnostics(ds: Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  return ds.filter((d) => {
    const k = canonicalJson(d);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/**
 * truncate makes a UI comment safe for every backend: printable ASCII without quotes or
 * backslashes (nft and iptables-restore quote comments), at most n characters.
 */
function truncate(s: string, n: number): string {
  const clean = s.replace(/["\\]/g, "'").replace(/[^\x20-\x7e]/g, '?');
  return clean.length <= n ? clean : `${clean.slice(0, n - 3)}...`;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
