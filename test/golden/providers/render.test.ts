/**
 * Golden tests: the exact scripts each backend feeds the kernel for the netns fixture, pinned as
 * files beside this test. On mismatch the failure shows a unified diff; regenerate deliberately
 * with `UPDATE_GOLDEN=1 npx jest test/golden/providers` and review the file diff in the commit.
 */
import * as fs from 'fs';
import * as path from 'path';
import { createTwoFilesPatch } from 'diff';
import { providerFor, type BackendName } from '../../../providers';
import { changedFixture, webFixture } from '../../netns/fixtures';

function golden(file: string, actual: string): void {
  const p = path.join(__dirname, file);
  if (process.env.UPDATE_GOLDEN === '1' || !fs.existsSync(p)) {
    fs.writeFileSync(p, actual);
    if (process.env.UPDATE_GOLDEN !== '1') throw new Error(`golden file ${file} did not exist and was written; review and commit it`);
    return;
  }
  const want = fs.readFileSync(p, 'utf8');
  if (want !== actual) {
    throw new Error(
      `rendered output differs from ${file} (UPDATE_GOLDEN=1 to accept):\n` + createTwoFilesPatch(`${file} (golden)`, `${file} (rendered)`, want, actual),
    );
  }
}

const BACKENDS: Array<[BackendName, string]> = [
  ['nftables', 'nftables'],
  ['iptables-nft', 'iptables-nft'],
  ['iptables-legacy', 'iptables-legacy'],
];

describe('golden provider output', () => {
  it.each(BACKENDS)('%s: full render of the web fixture on a clean host', (backend, base) => {
    const p = providerFor(backend) as ReturnType<typeof providerFor> & { renderRules(d: unknown, l?: unknown): string };
    golden(`${base}.full.golden`, p.renderRules(webFixture()));
  });

  it.each(BACKENDS)('%s: changed fixture over a host holding the web fixture', (backend, base) => {
    const p = providerFor(backend) as ReturnType<typeof providerFor> & { renderRules(d: unknown, l?: unknown): string };
    golden(`${base}.change.golden`, p.renderRules(changedFixture(), p.expected(webFixture())));
  });

  it.each(BACKENDS)('%s: cleanup of a host holding the web fixture', (backend, base) => {
    const p = providerFor(backend);
    const steps = p.cleanup(p.expected(webFixture()), 'srv').map((tx) => p.serialize(tx));
    golden(`${base}.cleanup.golden`, steps.map((s) => `# ${s.argv.join(' ')}\n${s.stdin}`).join('\n'));
  });
});
