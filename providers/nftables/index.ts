/**
 * NftablesProvider: microseg's dataplane on nftables (DESIGN §5). We own table `inet microseg`
 * whole; every change is one `nft -f` batch (the whole table replaced, or only what differs), and
 * cleanup deletes the table.
 */
import type { AddressSet, DesiredRuleset } from '../../src/compile/ir';
import { runAll } from '../../src/hosts/batch';
import { HOST_FACT_ARGVS, parseHostFacts } from '../host-facts';
import type { CommandResult, Host } from '../../src/hosts/types';
import type { Capabilities, ChangePlan, LiveChain, LiveRuleset, ObjectDiff, PartialLive, PartialRead, Provider, ReadScope, ScriptStep } from '../types';
import type { Transaction } from '../transaction';
import { IR_NAME, ProviderError, canonicalLive, ruleFamily } from '../common';
import { NFT_FAMILY, NFT_TABLE, nftName } from './names';
import { TABLE_ABSENT, emptyLive, parseBaseChains, parseChainList, parseNftTable } from './read';
import { checkNftOp, fullSyncTransaction, nftScript, renderNftScript } from './render';
import { nftCleanup, nftWarmup, planNftChanges } from './changes';
import { bodyOfRule } from './body';

export { nftName, irNameOf, NFT_TABLE, NFT_FAMILY, NFT_PREFIX } from './names';
export { renderNftScript, renderRule, nftScript, COMMENT_PREFIX } from './render';
export { parseNftTable, parseElem, parseBaseChains, parseChainList, emptyLive } from './read';
export { planNftChanges } from './changes';

/** NFT_ARGV feeds a script on stdin; `-f -` reads the whole input before committing one batch. */
export const NFT_ARGV = ['nft', '-f', '-'] as const;

/**
 * PROBE_SCRIPT exercises every construct renderFull emits, in check mode (`nft -c`: the kernel
 * validates the batch and commits nothing), inside a scratch table name that is never created.
 */
/**
 * PARTIAL_READ_MAX is the most objects readPartial lists one by one before a full read is the
 * cheaper choice. Measured on nft 1.0.6 in a netns holding 10,000 rules (chains of ~200, sets of
 * a few members): `nft -j list chain` ~10–20 ms and `list set` ~5–10 ms each, spawn included;
 * `list table` ~300 ms plus ~100 ms of parsing. nft 1.0.6 cannot batch several `list chain`
 * commands in one process (the second fails with "No such file or directory", a list of a set and
 * a chain together prints lookups against missing sets), so each object costs one process.
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

const PROBE_SCRIPT = `table inet microseg-probe {
	set s { type ipv4_addr; flags interval; comment "c"; elements = { 198.18.0.0/15 } }
	chain c { type filter hook input priority filter; policy accept;
		ip saddr @s tcp dport { 1, 2-3 } ct state new limit rate 50/second burst 100 packets counter log prefix "p" group 1 comment "microseg:probe"
		icmp type 8 icmp code { 0-1 } reject
		meta l4proto tcp reject with tcp reset
	}
}
`;

/** NftablesProvider implements Provider for nftables. */
export class NftablesProvider implements Provider {
  readonly backend = 'nftables' as const;

  async probe(host: Host): Promise<Capabilities> {
    const v = await host.run(['nft', '--version']);
    if (v.code !== 0) return { backend: this.backend, versions: {}, comments: false, missing: ['nft'] };
    const versions = { nft: v.stdout.trim() };
    const check = await host.run(['nft', '-c', '-f', '-'], { stdin: PROBE_SCRIPT });
    if (check.code === 0) return { backend: this.backend, versions, comments: true, missing: [] };
    // Tell apart "no comments" (nft < 0.9.x) from a kernel lacking some expression.
    const noComment = await host.run(['nft', '-c', '-f', '-'], { stdin: PROBE_SCRIPT.replace(/ comment "[^"]*"/g, '') });
    return {
      backend: this.backend,
      versions,
      comments: false,
      missing: noComment.code === 0 ? ['comments'] : [`nft check failed: ${check.stderr.trim().split('\n')[0]}`],
    };
  }

  fullSync(desired: DesiredRuleset, _live: LiveRuleset | undefined, reason: string): Transaction[] {
    return [fullSyncTransaction(desired, reason)];
  }

  /** changes: one `nft -f` batch holding only what `diff` names (see changes.ts for the order and the fallbacks). */
  changes(desired: DesiredRuleset, diff: ObjectDiff): ChangePlan {
    return planNftChanges(desired, diff);
  }

  cleanup(live: LiveRuleset, enforcer: string): Transaction[] {
    return nftCleanup(enforcer, live);
  }

  conntrackWarmup(desired: DesiredRuleset): Transaction[] {
    return nftWarmup(desired);
  }

  serialize(tx: Transaction): ScriptStep {
    return { argv: [...NFT_ARGV], stdin: nftScript(tx) };
  }

  validate(tx: Transaction): void {
    if (tx.backend !== this.backend) throw new ProviderError(`a ${tx.backend} transaction cannot run on nftables`, 'tool');
    for (const op of tx.ops) checkNftOp(tx.table, op);
  }

  /** renderRules is the full sync's script for people (`microseg rules`, golden files). */
  renderRules(desired: DesiredRuleset): string {
    return renderNftScript(desired);
  }

  /** unavailable: nft must list tables (it needs the nf_tables kernel API). */
  async unavailable(host: Host): Promise<string | undefined> {
    const r = await host.run(['nft', 'list', 'tables']);
    return r.code === 0 ? undefined : `nft unusable: ${r.stderr.trim().split('\n')[0] || `exit ${r.code}`}`;
  }

  /**
   * read: `nft -j list table inet microseg` and `nft -j list chains` (every table's base chains,
   * for hook order), in one transport round trip where the host offers it (runAll). The chain list
   * is read even when the table turns out absent (it is then unused): one round trip costs less
   * than a second one would.
   */
  async read(host: Host): Promise<LiveRuleset> {
    const [r, chains, ...factResults] = await runAll(host, [
      ['nft', '-j', 'list', 'table', NFT_FAMILY, NFT_TABLE],
      ['nft', '-j', 'list', 'chains'],
      ...HOST_FACT_ARGVS,
    ]);
    const facts = parseHostFacts(factResults);
    const withFacts = (live: LiveRuleset): LiveRuleset => (facts ? { ...live, facts } : live);
    if (r.code !== 0) {
      if (TABLE_ABSENT.test(r.stderr)) return withFacts(emptyLive());
      throw new ProviderError(`nft list table failed on ${host.description}: ${r.stderr.trim()}`, 'kernel');
    }
    return withFacts(parseNftTable(r.stdout, chains.code === 0 ? parseBaseChains(chains.stdout) : []));
  }

  /**
   * readPartial: `nft -j list chains` (every chain of every table, without rules: our chains'
   * names and hooks, and the foreign base chains that decide `first`), `nft -j list chain` for
   * each chain of `scope` and `nft -j list set` for each set of `scope`, in PARTIAL_READ_CONCURRENCY
   * batches at once (runAll; they are independent reads; on a 10,000-rule table each takes 10–20 ms
   * alone, mostly process and transport start-up). An object its own list reports absent is absent; a chain that its
   * list and the chain listing disagree on (created or deleted in between) makes mergePartial
   * refuse the view, so apply reads the table whole. Undefined (read the table whole instead) for
   * more than PARTIAL_READ_MAX objects or a name microseg never writes.
   */
  async readPartial(host: Host, scope: ReadScope): Promise<PartialLive | undefined> {
    const plan = this.partialRead(scope);
    if (!plan) return undefined;
    return plan.parse(await runAll(host, plan.argvs, { concurrency: PARTIAL_READ_CONCURRENCY }), host.description);
  }

  /** partialRead is readPartial's listings and their parser (KernelFirewall also runs them right after a transaction). */
  partialRead(scope: ReadScope): PartialRead | undefined {
    if (scope.chains.length + scope.sets.length > PARTIAL_READ_MAX) return undefined;
    if ([...scope.chains, ...scope.sets].some((n) => !IR_NAME.test(n))) return undefined;
    const argvs = [
      ['nft', '-j', 'list', 'chains'],
      ...scope.chains.map((name) => ['nft', '-j', 'list', 'chain', NFT_FAMILY, NFT_TABLE, nftName(name)]),
      ...scope.sets.map((name) => ['nft', '-j', 'list', 'set', NFT_FAMILY, NFT_TABLE, nftName(name)]),
    ];
    const parse = (results: readonly CommandResult[], where: string): PartialLive => {
      if (results[0].code !== 0) throw new ProviderError(`nft list chains failed on ${where}: ${results[0].stderr.trim()}`, 'kernel');
      const out: Array<string | undefined> = results.map((r, i) => (i === 0 ? r.stdout : listed(where, argvs[i], r)));
      const own = parseChainList(out[0]!);
      const chains: LiveChain[] = [];
      const sets: AddressSet[] = [];
      out.slice(1, 1 + scope.chains.length).forEach((doc) => doc !== undefined && chains.push(...parseNftTable(doc, own.baseChains).chains));
      out.slice(1 + scope.chains.length).forEach((doc) => doc !== undefined && sets.push(...parseNftTable(doc).sets));
      return { backend: this.backend, chains, sets, hooks: own.hooks, chainNames: own.names };
    };
    return { argvs, parse };
  }

  expected(desired: DesiredRuleset): LiveRuleset {
    const sets = new Map(desired.sets.map((s) => [s.name, s] as const));
    for (const c of desired.chains) for (const r of c.rules) ruleFamily(r, sets);
    return canonicalLive({
      backend: this.backend,
      sets: desired.sets.map((s) => ({ ...s, elements: [...s.elements] })),
      chains: desired.chains.map((c) => ({
        name: c.name,
        ...(c.hook ? { hook: c.hook } : {}),
        ruleIds: c.rules.map((r) => r.id),
        foreignRules: 0,
        rules: c.rules.map((r) => `${r.id} ${bodyOfRule(r, ruleFamily(r, sets))}`),
      })),
      hooks: desired.chains
        .filter((c) => c.hook)
        .flatMap((c) => ([4, 6] as const).map((family) => ({ hook: c.hook!, family, present: true, first: true, count: 1, targets: [c.name] }))),
    });
  }
}

/** listed is the output of `nft -j list chain|set inet microseg <name>`, or undefined when it does not exist. */
function listed(where: string, argv: readonly string[], r: CommandResult): string | undefined {
  if (r.code === 0) return r.stdout;
  if (TABLE_ABSENT.test(r.stderr)) return undefined;
  throw new ProviderError(`nft list ${argv[3]} ${argv[6]} failed on ${where}: ${r.stderr.trim()}`, 'kernel');
}
