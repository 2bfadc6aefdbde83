/**
 * IptablesProvider: microseg's dataplane on iptables + ipset, in the iptables-nft or
 * iptables-legacy flavour. See render.ts for the step order and read.ts for ownership rules.
 */
import type { DesiredRuleset } from '../../src/compile/ir';
import type { Host } from '../../src/hosts/types';
import type { BackendName, Capabilities, LiveHook, LiveRuleset, Provider, ScriptStep } from '../types';
import { ProviderError, canonicalLive, ruleFamily } from '../common';
import { buildLive, mergeFamilies, parseIpsetSave, parseSave } from './read';
import { renderIpsetDestroy, renderIpsetFill, renderRuleSpecs, renderTable } from './render';
import { toolsFor, type IptablesTools, type IptablesVariant } from './tools';
import { planIptablesChanges } from './changes';

export { detectBackend, detectBackendDetailed, type Detection } from './detect';
export { chainName, setName, tempSetName, CHAIN_PREFIX, SET_PREFIX, HOOK_COMMENT } from './names';
export { renderTable, renderIpsetFill, renderIpsetDestroy, renderRuleSpecs, portVariants, icmpVariants, hookSpec } from './render';
export { parseSave, parseIpsetSave, collapseParts, mergeFamilies, buildLive, commentOf } from './read';
export { toolsFor, type IptablesVariant, type IptablesTools } from './tools';
export { planIptablesChanges, type IptablesChanges } from './changes';

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
    for (const [match, label] of [['comment', 'comment match'], ['set', 'set match'], ['multiport', 'multiport match'], ['conntrack', 'conntrack match']] as const) {
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

  renderFull(desired: DesiredRuleset, live?: LiveRuleset): ScriptStep[] {
    const steps: ScriptStep[] = [];
    const fill = renderIpsetFill(desired, live);
    if (fill) steps.push({ argv: [...this.tools.ipsetRestore], stdin: fill });
    steps.push({ argv: this.tools.restore(4), stdin: renderTable(desired, 4, live) });
    steps.push({ argv: this.tools.restore(6), stdin: renderTable(desired, 6, live) });
    const destroy = renderIpsetDestroy(live, new Set(desired.sets.map((s) => s.name)));
    if (destroy) steps.push({ argv: [...this.tools.ipsetRestore], stdin: destroy });
    return steps;
  }

  /**
   * renderChanges: only the steps and lines that differ from `live` (see changes.ts for the step
   * order, the ipset atomicity trade-off and what falls back to renderFull). [] when nothing differs.
   */
  renderChanges(desired: DesiredRuleset, live: LiveRuleset): ScriptStep[] {
    const c = planIptablesChanges(desired, this.expected(desired), live);
    if (c.kind === 'none') return [];
    if (c.kind === 'full') {
      const steps = this.renderFull(desired, live);
      // ipset restore and iptables-restore both skip `#` lines, so the reason travels with the script.
      const why = `# renderChanges: full replace, because ${c.reason.replace(/[^\x20-\x7e]/g, '?')}\n`;
      return steps.map((s, i) => (i === 0 ? { ...s, stdin: why + s.stdin } : s));
    }
    const steps: ScriptStep[] = [];
    if (c.ipsetBefore) steps.push({ argv: [...this.tools.ipsetRestore], stdin: c.ipsetBefore });
    for (const f of [4, 6] as const) if (c.tables[f]) steps.push({ argv: this.tools.restore(f), stdin: c.tables[f] });
    if (c.ipsetAfter) steps.push({ argv: [...this.tools.ipsetRestore], stdin: c.ipsetAfter });
    return steps;
  }

  /** renderRules shows the steps as one text, each under a `# <argv>` header (for `microseg rules`). */
  renderRules(desired: DesiredRuleset, live?: LiveRuleset): string {
    return this.renderFull(desired, live)
      .map((s) => `# ${s.argv.join(' ')}\n${s.stdin}`)
      .join('\n');
  }

  renderCleanup(live: LiveRuleset): ScriptStep[] {
    // Hooks first, then chains (both inside one restore per family), then sets.
    const steps: ScriptStep[] = [
      { argv: this.tools.restore(4), stdin: renderTable(null, 4, live) },
      { argv: this.tools.restore(6), stdin: renderTable(null, 6, live) },
    ];
    const destroy = renderIpsetDestroy(live, new Set());
    if (destroy) steps.push({ argv: [...this.tools.ipsetRestore], stdin: destroy });
    return steps;
  }

  async read(host: Host): Promise<LiveRuleset> {
    const tables = [];
    for (const f of [4, 6] as const) {
      const r = await host.run(this.tools.save(f));
      if (r.code !== 0) {
        if (/does not exist|Table does not exist/i.test(r.stderr)) {
          tables.push(parseSave('', f));
          continue;
        }
        throw new ProviderError(`${this.tools.save(f).join(' ')} failed on ${host.description}: ${r.stderr.trim()}`, 'kernel');
      }
      tables.push(parseSave(r.stdout, f));
    }
    const ipset = await host.run(this.tools.ipsetSave);
    // No ipset binary means no sets can exist that we made; probe reports the missing tool.
    if (ipset.code !== 0 && ipset.code !== 127) throw new ProviderError(`ipset save failed on ${host.description}: ${ipset.stderr.trim()}`, 'kernel');
    return buildLive(this.backend, tables[0], tables[1], ipset.code === 0 ? parseIpsetSave(ipset.stdout) : []);
  }

  expected(desired: DesiredRuleset): LiveRuleset {
    const sets = new Map(desired.sets.map((s) => [s.name, s] as const));
    const hooks: LiveHook[] = [];
    const chains = desired.chains.map((c) => {
      const ids = { 4: [] as string[], 6: [] as string[] };
      for (const r of c.rules) {
        const fam = ruleFamily(r, sets);
        for (const f of [4, 6] as const) {
          if (fam !== undefined && fam !== f) continue;
          // Validate exactly like rendering does, so expected() fails where renderFull would.
          renderRuleSpecs(r, f, sets);
          ids[f].push(r.id);
        }
      }
      if (c.hook) for (const family of [4, 6] as const) hooks.push({ hook: c.hook, family, present: true, first: true, count: 1, targets: [c.name] });
      return {
        name: c.name,
        ...(c.hook ? { hook: c.hook } : {}),
        ruleIds: mergeFamilies(ids[4], ids[6]),
        foreignRules: 0,
        families: [4, 6] as Array<4 | 6>,
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
