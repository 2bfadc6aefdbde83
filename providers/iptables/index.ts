/**
 * IptablesProvider: microseg's dataplane on iptables + ipset, in the iptables-nft or
 * iptables-legacy flavour. See render.ts for the step order and read.ts for ownership rules.
 */
import type { AddressSet, DesiredRuleset, Family } from '../../src/compile/ir';
import { runAll } from '../../src/hosts/batch';
import { HOST_FACT_ARGVS, parseHostFacts } from '../host-facts';
import type { CommandResult, Host } from '../../src/hosts/types';
import type { BackendName, Capabilities, ChangePlan, LiveHook, LiveRuleset, ObjectDiff, PartialLive, PartialRead, Provider, ReadScope, ScriptStep } from '../types';
import type { Transaction } from '../transaction';
import { IR_NAME, ProviderError, canonicalLive, conntrackWarmupChain, ruleFamily } from '../common';
import { buildLive, iptBody, mergeFamilies, parseIpsetSave, parseListRules, parseNftChainNames, parseSave, ruleEntries } from './read';
import { BUILTIN, chainName, setName } from './names';
import { TABLE_OF, checkIptablesOp, cleanupTransactions, fullSyncTransactions, ipsetScript, newIptTx, renderRuleSpecs, restoreScript } from './render';

import { toolsFor, type IptablesTools, type IptablesVariant } from './tools';
import { planIptablesChanges } from './changes';

export { detectBackend, detectBackendDetailed, type Detection } from './detect';
export { chainName, setName, tempSetName, CHAIN_PREFIX, SET_PREFIX, HOOK_COMMENT } from './names';
export { renderTable, renderRuleSpecs, portVariants, icmpVariants, hookSpec, restoreScript, ipsetScript, tableTransaction } from './render';
export { parseSave, parseIpsetSave, parseListRules, parseNftChainNames, collapseParts, mergeFamilies, buildLive, commentOf } from './read';
export { toolsFor, type IptablesVariant, type IptablesTools } from './tools';
export { planIptablesChanges } from './changes';

/**
 * PARTIAL_READ_MAX is the most listings of owned objects readPartial makes (two per chain, one
 * `iptables -S` per family; one `ipset save NAME` per set) before a full read is the better
 * choice. On top come the six hook listings and, on iptables-nft, `nft -j list chains`. Measured
 * in a netns holding 10,000 rules (Debian 12, iptables 1.8.9, 2 shared cores): `iptables-nft -S
 * CHAIN` 2–5 ms and `ipset save NAME` ~2 ms each, spawn included, against ~90 ms for
 * `iptables-nft-save -t filter` plus parsing; iptables-legacy loads the whole table blob for every
 * command (`iptables-legacy -S CHAIN` ~12 ms at 10,000 IPv4 rules, `-save` ~60 ms), so there the
 * gain is smaller.
 */
const PARTIAL_READ_MAX = 16;

/**
 * PARTIAL_READ_CONCURRENCY bounds the transport commands readPartial runs at once (over SSH:
 * sessions): with runMany, its listings go in this many batches run at once (src/hosts/batch.ts
 * runAll), else this many single commands at a time. Measured in a netns holding 10,000 rules
 * (2 shared cores), 4 concurrent batches against 4 concurrent single commands: 17 nft listings
 * 47 ms against 66 ms (one batch: 62 ms); 23 iptables-nft listings 34 ms against 70 ms (one
 * batch: 40 ms), 13 of them 22 ms against 40 ms; 5 nft listings about 18 ms either way.
 */
const PARTIAL_READ_CONCURRENCY = 4;

/** NO_CHAIN: `iptables -S CHAIN` of a chain that does not exist (both variants, older iptables-nft). */
const NO_CHAIN = /No chain\/target\/match by that name/;
/** NFT_ODD_CHAIN: iptables-nft 1.8.9 says this for a chain that does not exist, and for one it cannot parse. */
const NFT_ODD_CHAIN = /is incompatible, use 'nft' tool/;
/** TABLE_ABSENT: table filter does not exist (the full read reads it as empty). */
const TABLE_ABSENT = /does not exist/i;

/** IptablesProvider implements Provider for `iptables-nft` and `iptables-legacy`. */
export class IptablesProvider implements Provider {
  readonly backend: BackendName;
  readonly tools: IptablesTools;

  constructor(readonly variant: IptablesVariant) {
    this.backend = variant === 'nft' ? 'iptables-nft' : 'iptables-legacy';
    this.tools = toolsFor(variant);
  }

  async probe(host: Host): Promise<Capabilities> {
    const versions: Record<string, string> = {};
    const missing: string[] = [];
    for (const f of [4, 6] as const) {
      const argv = this.tools.cmd(f);
      const v = await host.run([...argv, '--version']);
      if (v.code === 0) versions[argv[0]] = v.stdout.trim();
      else missing.push(argv[0]);
    }
    const ipset = await host.run(['ipset', '--version']);
    if (ipset.code === 0) versions.ipset = ipset.stdout.trim().split('\n')[0];
    else missing.push('ipset');
    // `-m NAME --help` loads the userspace extension only; it proves the match can be written.
    // Kernel-side support is proven at apply time by the restore itself and the read-back.
    let comments = true;
    for (const [match, label] of [['comment', 'comment match'], ['set', 'set match'], ['multiport', 'multiport match'], ['conntrack', 'conntrack match'], ['limit', 'limit match']] as const) {
      const r = await host.run([...this.tools.cmd(4), '-m', match, '--help']);
      if (r.code !== 0) {
        missing.push(label);
        if (match === 'comment') comments = false;
      }
    }
    for (const target of ['NFLOG', 'REJECT']) {
      const r = await host.run([...this.tools.cmd(4), '-j', target, '--help']);
      if (r.code !== 0) missing.push(`${target} target`);
    }
    return { backend: this.backend, versions, comments, missing };
  }

  fullSync(desired: DesiredRuleset, live: LiveRuleset | undefined, reason: string): Transaction[] {
    return fullSyncTransactions(this.backend, desired, live, reason);
  }

  /** changes: only the steps and lines `diff` calls for (see changes.ts for the order, the ipset atomicity trade-off and the fallbacks). */
  changes(desired: DesiredRuleset, diff: ObjectDiff): ChangePlan {
    return planIptablesChanges(this.backend, desired, diff);
  }

  cleanup(live: LiveRuleset, enforcer: string): Transaction[] {
    return cleanupTransactions(this.backend, enforcer, live);
  }

  serialize(tx: Transaction): ScriptStep {
    if (tx.table === 'ipset') return { argv: [...this.tools.ipsetRestore], stdin: ipsetScript(tx) };
    return { argv: this.tools.restore(tx.table === 'ip filter' ? 4 : 6), stdin: restoreScript(tx) };
  }

  validate(tx: Transaction): void {
    if (tx.backend !== this.backend) throw new ProviderError(`a ${tx.backend} transaction cannot run on ${this.backend}`, 'tool');
    for (const op of tx.ops) checkIptablesOp(tx.table, op);
  }

  /** renderRules shows the full sync's steps as one text, each under a `# <argv>` header (`microseg rules`, golden files). */
  renderRules(desired: DesiredRuleset, live?: LiveRuleset): string {
    return this.fullSync(desired, live, 'render')
      .map((tx) => this.serialize(tx))
      .map((s) => `# ${s.argv.join(' ')}\n${s.stdin}`)
      .join('\n');
  }

  /**
   * conntrackWarmup: per family, the first hooked chain declared (not yet jumped to) with one
   * conntrack rule (see Provider). The full sync's restore declares the same chain again, which
   * flushes it before its own rules go in.
   */
  conntrackWarmup(desired: DesiredRuleset): Transaction[] {
    const anchor = conntrackWarmupChain(desired);
    if (anchor === undefined) return [];
    const rule = { id: 'conntrack-warmup', match: { ctState: ['established' as const, 'related' as const] }, verdict: { kind: 'accept' as const } };
    return ([4, 6] as const).map((f) => ({
      ...newIptTx(this.backend, desired.enforcer, TABLE_OF[f], 'delta', 'start connection tracking before the first ruleset (nothing jumps here yet; the full sync flushes it)')
        .add('add', { type: 'chain', name: anchor })
        .add('add', { type: 'rule', chain: anchor, rule })
        .build(),
      separate: true as const,
    }));
  }

  /**
   * unavailable: iptables-nft needs its binary; iptables-legacy also needs its tables to be usable
   * already (/proc/net/ip_tables_names): microseg never loads the ip_tables module, so where it is
   * not loaded nothing of ours can exist there.
   */
  async unavailable(host: Host): Promise<string | undefined> {
    if (this.variant === 'nft') {
      const r = await host.run(['iptables-nft', '--version']);
      return r.code === 0 ? undefined : 'iptables-nft not installed';
    }
    const names = await host.run(['cat', '/proc/net/ip_tables_names']);
    if (names.code !== 0) return 'legacy iptables tables not loaded (microseg never loads modules): nothing of ours can exist there';
    const r = await host.run(['iptables-legacy', '--version']);
    return r.code === 0 ? undefined : 'iptables-legacy not installed';
  }

  /**
   * read: `iptables-save -t filter`, `ip6tables-save -t filter` and `ipset save`, in one transport
   * round trip where the host offers it (runAll), judged in that order.
   */
  async read(host: Host): Promise<LiveRuleset> {
    const [save4, save6, ipset, ...factResults] = await runAll(host, [this.tools.save(4), this.tools.save(6), this.tools.ipsetSave, ...HOST_FACT_ARGVS]);
    const facts = parseHostFacts(factResults);
    const tables = [];
    for (const [f, r] of [[4, save4], [6, save6]] as const) {
      if (r.code !== 0) {
        if (/does not exist|Table does not exist/i.test(r.stderr)) {
          tables.push(parseSave('', f));
          continue;
        }
        throw new ProviderError(`${this.tools.save(f).join(' ')} failed on ${host.description}: ${r.stderr.trim()}`, 'kernel');
      }
      tables.push(parseSave(r.stdout, f));
    }
    // No ipset binary means no sets can exist that we made; probe reports the missing tool.
    if (ipset.code !== 0 && ipset.code !== 127) throw new ProviderError(`ipset save failed on ${host.description}: ${ipset.stderr.trim()}`, 'kernel');
    const live = buildLive(this.backend, tables[0], tables[1], ipset.code === 0 ? parseIpsetSave(ipset.stdout) : []);
    return facts ? { ...live, facts } : live;
  }

  /**
   * readPartial: `iptables -S CHAIN` and `ip6tables -S CHAIN` for each chain of `scope` and for
   * INPUT, OUTPUT and FORWARD (so hooks — presence, first, duplicates, targets — are exact), and
   * `ipset save NAME` for each set of `scope`, in PARTIAL_READ_CONCURRENCY batches at once (runAll), parsed
   * by the full read's own parser (parseListRules → parseSave, parseIpsetSave, buildLive). On
   * iptables-nft, `nft -j list chains` also lists every owned chain and its families without a
   * rule, so mergePartial refuses a view in which an out-of-scope chain appeared or vanished (in
   * either family); without the `nft` binary, and always on iptables-legacy (which has no way to
   * list chain names short of dumping every rule), that list is left out and such a chain is seen
   * by the next plan's full read instead (documented in README.md). Undefined — read the host whole
   * — for more than PARTIAL_READ_MAX listings, a name microseg never writes, or any listing that
   * fails in a way a full read would have to judge (xtables lock timeout, a chain iptables-nft calls
   * incompatible that `nft` lists, a missing tool).
   */
  async readPartial(host: Host, scope: ReadScope): Promise<PartialLive | undefined> {
    const plan = this.partialRead(scope);
    if (!plan) return undefined;
    return plan.parse(await runAll(host, plan.argvs, { concurrency: PARTIAL_READ_CONCURRENCY }), host.description);
  }

  /** partialRead is readPartial's listings and their parser (KernelFirewall also runs them right after a transaction). */
  partialRead(scope: ReadScope): PartialRead | undefined {
    if (2 * scope.chains.length + scope.sets.length > PARTIAL_READ_MAX) return undefined;
    if ([...scope.chains, ...scope.sets].some((n) => !IR_NAME.test(n))) return undefined;
    type Job = { argv: string[]; kind: 'names' | 'builtin' | 'chain' | 'set'; family?: Family; name?: string };
    const jobs: Job[] = [];
    if (this.variant === 'nft') jobs.push({ argv: ['nft', '-j', 'list', 'chains'], kind: 'names' });
    for (const f of [4, 6] as const) {
      // -w: legacy list commands take the xtables lock too; wait for it like the restores do.
      const list = (chain: string) => [...this.tools.cmd(f), '-w', '5', '-S', chain];
      for (const b of Object.values(BUILTIN)) jobs.push({ argv: list(b), kind: 'builtin', family: f });
      for (const c of scope.chains) jobs.push({ argv: list(chainName(c)), kind: 'chain', family: f, name: c });
    }
    for (const s of scope.sets) jobs.push({ argv: [...this.tools.ipsetSave, setName(s)], kind: 'set', name: s });
    const parse = (out: readonly CommandResult[]): PartialLive | undefined => {
      let listed: Map<string, Array<4 | 6>> | undefined;
      const text: Record<Family, string[]> = { 4: [], 6: [] };
      let ipsetText = '';
      for (let i = 0; i < jobs.length; i++) {
        const j = jobs[i];
        const r = out[i];
        if (j.kind === 'names') {
          // No nft binary or an unreadable answer: go on without the list (see above).
          if (r.code === 0) listed = parseNftChainNames(r.stdout);
          continue;
        }
        if (j.kind === 'set') {
          if (r.code === 0) ipsetText += r.stdout.endsWith('\n') || r.stdout === '' ? r.stdout : `${r.stdout}\n`;
          // Absent set; or no ipset binary, where the full read finds no sets either.
          else if (!(r.code === 127 || TABLE_ABSENT.test(r.stderr))) return undefined;
          continue;
        }
        if (r.code === 0) {
          text[j.family!].push(r.stdout);
          continue;
        }
        if (TABLE_ABSENT.test(r.stderr)) continue; // no table filter: read as empty, as read() does
        if (j.kind === 'chain' && NO_CHAIN.test(r.stderr)) continue;
        // iptables-nft 1.8.9 cannot tell "no such chain" from "a chain I cannot parse"; the chain
        // list (job 0, so already read here) can. Without it, the full read judges.
        if (j.kind === 'chain' && NFT_ODD_CHAIN.test(r.stderr) && listed && !listed.get(j.name!)?.includes(j.family!)) continue;
        return undefined;
      }
      const tables = ([4, 6] as const).map((f) => parseListRules(text[f].join('\n'), f));
      const sets: AddressSet[] = ipsetText ? parseIpsetSave(ipsetText) : [];
      const live = buildLive(this.backend, tables[0], tables[1], sets);
      const part: PartialLive = { backend: this.backend, chains: live.chains, sets: live.sets, hooks: live.hooks };
      if (listed) {
        part.chainNames = [...listed.keys()].sort();
        part.chainFamilies = Object.fromEntries(listed);
      }
      return part;
    };
    return { argvs: jobs.map((j) => j.argv), parse };
  }

  expected(desired: DesiredRuleset): LiveRuleset {
    const sets = new Map(desired.sets.map((s) => [s.name, s] as const));
    const hooks: LiveHook[] = [];
    const chains = desired.chains.map((c) => {
      const ids = { 4: [] as string[], 6: [] as string[] };
      const kernel = { 4: { ids: [] as string[], bodies: [] as string[] }, 6: { ids: [] as string[], bodies: [] as string[] } };
      for (const r of c.rules) {
        const fam = ruleFamily(r, sets);
        for (const f of [4, 6] as const) {
          if (fam !== undefined && fam !== f) continue;
          // Validate exactly like rendering does, so expected() fails where renderFull would.
          const specs = renderRuleSpecs(r, f, sets);
          ids[f].push(r.id);
          specs.forEach((spec, i) => {
            kernel[f].ids.push(specs.length === 1 ? r.id : `${r.id}#${i + 1}/${specs.length}`);
            kernel[f].bodies.push(iptBody(spec));
          });
        }
      }
      if (c.hook) for (const family of [4, 6] as const) hooks.push({ hook: c.hook, family, present: true, first: true, count: 1, targets: [c.name] });
      return {
        name: c.name,
        ...(c.hook ? { hook: c.hook } : {}),
        ruleIds: mergeFamilies(ids[4], ids[6]),
        foreignRules: 0,
        families: [4, 6] as Array<4 | 6>,
        rules: [...ruleEntries(4, kernel[4]), ...ruleEntries(6, kernel[6])],
      };
    });
    return canonicalLive({
      backend: this.backend,
      // ipset keeps no set comment, so the live shape has none.
      sets: desired.sets.map((s) => ({ name: s.name, family: s.family, elements: [...s.elements] })),
      chains,
      hooks,
    });
  }
}

/** assertVariant narrows a backend name to an iptables variant. */
export function variantOf(backend: BackendName): IptablesVariant {
  if (backend === 'iptables-nft') return 'nft';
  if (backend === 'iptables-legacy') return 'legacy';
  throw new ProviderError(`${backend} is not an iptables backend`, 'tool');
}
