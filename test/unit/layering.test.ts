/**
 * The layers import downhill only (docs/ARCHITECTURE.md): transports know nothing of firewalls,
 * firewalls nothing of planning, planning nothing of the executor or the CLI, state nothing of
 * firewalls, and no production module reaches the test double. Type-only imports count: a type
 * dependency is a dependency.
 */
import * as fs from 'fs';
import * as path from 'path';

const ROOT = path.join(__dirname, '../..');

function files(dir: string): string[] {
  return fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = path.join(dir, e.name);
    if (e.isDirectory()) return files(rel);
    return e.name.endsWith('.ts') ? [rel] : [];
  });
}

/** importsOf lists the repository paths `file` imports (relative specifiers only, resolved, without extension). */
function importsOf(file: string): string[] {
  const text = fs.readFileSync(path.join(ROOT, file), 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+'(\.[^']+)'|import\(\s*'(\.[^']+)'\s*\)/g)) {
    const spec = m[1] ?? m[2];
    out.push(path.normalize(path.join(path.dirname(file), spec)));
  }
  return out;
}

const under = (p: string, dir: string) => p === dir || p.startsWith(`${dir}/`);

/** RULES: files under `from` may not import anything under any of `not`. */
const RULES: Array<{ from: string; not: string[]; except?: string }> = [
  { from: 'src/hosts', not: ['src/plan', 'src/apply', 'src/cli', 'src/state', 'providers'] },
  { from: 'providers', not: ['src/plan', 'src/apply', 'src/cli', 'src/state'] },
  { from: 'src/state', not: ['providers', 'src/plan', 'src/apply', 'src/cli'] },
  { from: 'src/plan', not: ['src/apply', 'src/cli', 'src/flows'] },
  { from: 'src/flows', not: ['src/apply', 'src/cli'] },
  { from: 'src/apply', not: ['src/cli'] },
  { from: 'src/compile', not: ['providers', 'src/plan', 'src/apply', 'src/cli', 'src/state', 'src/hosts'] },
  { from: 'src/control', not: ['src/cli', 'src/agent'] },
  { from: 'src/agent', not: ['src/cli'] },
  { from: 'src', not: ['providers/fake'] },
  { from: 'providers', not: ['providers/fake'], except: 'providers/fake' },
];

describe('layering', () => {
  const all = [...files('src'), ...files('providers')];

  it.each(RULES.map((r) => [r.from, r] as const))('%s imports only downhill', (_from, rule) => {
    const bad: string[] = [];
    for (const f of all) {
      if (!under(f, rule.from) || (rule.except && under(f, rule.except))) continue;
      for (const imp of importsOf(f)) if (rule.not.some((n) => under(imp, n))) bad.push(`${f} imports ${imp}`);
    }
    expect(bad).toEqual([]);
  });

  it('the import scanner sees imports (a rule that found nothing to check would pass vacuously)', () => {
    expect(importsOf('src/apply/apply.ts')).toEqual(expect.arrayContaining(['src/plan', 'providers']));
    expect(importsOf('providers/fake/firewall.ts')).toContain('providers/registry');
  });
});
