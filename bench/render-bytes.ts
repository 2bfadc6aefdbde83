/**
 * Measurement: bytes sent to the kernel by a full apply (renderFull) versus an incremental one
 * (renderChanges) when ONE policy changes on a host of about 10,000 rules.
 * Target (issue "incremental apply"): the one-policy change sends at most 5% of the full bytes.
 *
 * How: a generated fleet (bench/generate.ts) with one enforcer is compiled
 * (evaluateHcl → validateConfig → compile); the host's ruleset is the "live" state, parsed from
 * the text the kernel would print after a full apply (simulatedRead: equal to expected(), plus the
 * rule handles / positions a real read carries). Then one
 * policy is edited in the HCL text, the fleet is compiled again, and both renders of the new
 * ruleset are measured against the old live state. Bytes are the sum of every step's stdin (what
 * is piped into nft / ipset / iptables-restore), argv excluded.
 *
 * Scenarios (each edits policy `pol-<n>` only):
 *  - ports:   its ports change (the rules it produces change; their chains are rewritten);
 *  - action:  allow ↔ reject (same);
 *  - object:  its object selector changes to another app (sets and/or rules change).
 *
 * Usage: node dist/bench/render-bytes.js [--rules N] [--policy N] [--json]
 */
import { changesFor, scriptsOf } from '../src/plan/transactions';
import { isDeepStrictEqual } from 'util';
import { compile } from '../src/compile';
import type { DesiredRuleset } from '../src/compile/ir';
import { evaluateHcl } from '../src/config/hcl';
import { validateConfig } from '../src/model/validate';
import { providerFor, type BackendName, type LiveRuleset, type ScriptStep } from '../providers';
import { parseNftTable } from '../providers/nftables';
import { listedExpr } from '../providers/nftables/body';
import { ruleFamily } from '../providers/common';
import { buildLive, parseSave, renderTable } from '../providers/iptables';
import { generateHcl, type ScaleSpec } from './generate';

const NOW = new Date('2025-01-01T00:00:00Z');

export interface BytesRow {
  backend: BackendName;
  scenario: string;
  rules: number;
  fullBytes: number;
  changeBytes: number;
  /** changeBytes / fullBytes. */
  ratio: number;
  steps: number;
}

function bytes(steps: readonly ScriptStep[]): number {
  return steps.reduce((n, s) => n + Buffer.byteLength(s.stdin, 'utf8'), 0);
}

function ruleCount(d: DesiredRuleset): number {
  return d.chains.reduce((n, c) => n + c.rules.length, 0);
}

/** hostRuleset compiles HCL text and returns enforcer host-0's ruleset. */
export function hostRuleset(text: string): DesiredRuleset {
  const raw = evaluateHcl([{ name: 'bench.hcl', text }], { vars: {}, varFiles: [], env: {} });
  const v = validateConfig(raw, { now: NOW });
  if (!v.model) throw new Error(`generated config does not validate: ${v.diagnostics.map((d) => d.summary).join('; ')}`);
  const r = compile(v.model, { now: NOW }).rulesets.find((x) => x.enforcer === 'host-0');
  if (!r) throw new Error('no ruleset for host-0');
  return r;
}

/** specFor is a one-enforcer fleet whose host has about `rules` rules (≈ 9.3 rules per policy at 40 PUs with the app-to-app generator). */
export function specFor(rules: number): ScaleSpec {
  const policies = Math.max(10, Math.round(rules / 9.3));
  return { enforcers: 1, pusPerEnforcer: 40, policies, externalNetworks: Math.max(4, Math.round(policies / 8)) };
}

/** policyBlock finds the text of `network_policy "pol-<n>"` in generated HCL. */
function policyBlock(text: string, n: number): { start: number; end: number; body: string } {
  const start = text.indexOf(`network_policy "pol-${n}" {`);
  if (start < 0) throw new Error(`policy pol-${n} not found`);
  const end = text.indexOf('\n}\n', start) + 3;
  return { start, end, body: text.slice(start, end) };
}

/** SCENARIOS edit one policy's block; each returns the new block. */
export const SCENARIOS: Record<string, (block: string) => string> = {
  ports: (b) => b.replace(/ports\s+=\s+\[[^\]]*\]/, 'ports     = ["tcp/4242"]'),
  action: (b) => (b.includes('"allow"') ? b.replace('"allow"', '"reject"') : b.replace('"reject"', '"allow"')),
  object: (b) => b.replace(/object\s+=\s+\[\[.*\]\]/, 'object    = [["app=app-1"]]'),
};

/**
 * simulatedRead is what `provider.read` returns on a host holding `desired` after a full apply,
 * built by parsing what the kernel would print (nft -j with rule handles; iptables-save lines),
 * so the per-rule positions renderChanges uses are present, as they are after a real read.
 */
export function simulatedRead(backend: BackendName, desired: DesiredRuleset): LiveRuleset {
  if (backend === 'nftables') {
    const T = { family: 'inet', table: 'microseg' };
    const items: unknown[] = [{ table: { family: 'inet', name: 'microseg', handle: 1 } }];
    let handle = 2;
    const sets = new Map(desired.sets.map((s) => [s.name, s] as const));
    for (const s of desired.sets) {
      items.push({ set: { ...T, name: `mseg-${s.name}`, type: s.family === 4 ? 'ipv4_addr' : 'ipv6_addr', comment: s.comment, elem: s.elements.map((e) => ({ prefix: { addr: e.split('/')[0], len: Number(e.split('/')[1]) } })) } });
    }
    for (const c of desired.chains) {
      items.push({ chain: { ...T, name: `mseg-${c.name}`, handle: handle++, ...(c.hook ? { type: 'filter', hook: c.hook, prio: 0 } : {}) } });
      for (const r of c.rules) items.push({ rule: { ...T, chain: `mseg-${c.name}`, handle: handle++, comment: `microseg:${r.id}`, expr: listedExpr(r, ruleFamily(r, sets)) } });
    }
    return parseNftTable(JSON.stringify({ nftables: items }));
  }
  const tables = ([4, 6] as const).map((f) =>
    parseSave(
      renderTable(desired, f)
        .split('\n')
        .map((l) => l.replace(/^-I (\S+) 1 /, '-A $1 '))
        .join('\n'),
      f,
    ),
  );
  return buildLive(backend, tables[0], tables[1], desired.sets.map((s) => ({ name: s.name, family: s.family, elements: [...s.elements] })));
}

/** measureBytes renders full and incremental bytes for each scenario and backend. */
export function measureBytes(targetRules = 10_000, policy = 6, backends: BackendName[] = ['nftables', 'iptables-nft']): BytesRow[] {
  const text = generateHcl(specFor(targetRules));
  const before = hostRuleset(text);
  const rows: BytesRow[] = [];
  for (const [scenario, edit] of Object.entries(SCENARIOS)) {
    const blk = policyBlock(text, policy);
    const changed = edit(blk.body);
    if (changed === blk.body) throw new Error(`scenario ${scenario} did not change pol-${policy}`);
    const after = hostRuleset(text.slice(0, blk.start) + changed + text.slice(blk.end));
    for (const backend of backends) {
      const p = providerFor(backend);
      const live = simulatedRead(backend, before);
      if (!isDeepStrictEqual(live, p.expected!(before))) throw new Error(`${backend}: simulated read differs from expected()`);
      const full = scriptsOf(p, p.fullSync(after, live, 'bench'));
      const change = changesFor(p, after, live);
      const inc = change.kind === 'delta' ? scriptsOf(p, change.transactions) : full;
      rows.push({
        backend,
        scenario,
        rules: ruleCount(after),
        fullBytes: bytes(full),
        changeBytes: bytes(inc),
        ratio: bytes(inc) / bytes(full),
        steps: inc.length,
      });
    }
  }
  return rows;
}

if (require.main === module) {
  const arg = (name: string, dflt: number) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? Number(process.argv[i + 1]) : dflt;
  };
  const rows = measureBytes(arg('--rules', 10_000), arg("--policy", 6));
  if (process.argv.includes('--json')) {
    console.log(JSON.stringify(rows, null, 2));
  } else {
    console.log('backend        scenario  rules   full bytes  change bytes   ratio  steps');
    for (const r of rows) {
      console.log(
        `${r.backend.padEnd(14)} ${r.scenario.padEnd(8)} ${String(r.rules).padStart(6)} ${String(r.fullBytes).padStart(12)} ${String(r.changeBytes).padStart(13)} ${(
          r.ratio * 100
        )
          .toFixed(2)
          .padStart(6)}%  ${r.steps}`,
      );
    }
    const worst = Math.max(...rows.map((r) => r.ratio));
    console.log(`\nworst one-policy change: ${(worst * 100).toFixed(2)}% of a full apply (target ≤ 5%) -> ${worst <= 0.05 ? 'MET' : 'NOT MET'}`);
  }
}
