/**
 * Golden files of renderChanges for every backend (test/golden/providers/changes-*.golden): the
 * exact incremental steps for the netns fixtures. Regenerate deliberately with
 * `UPDATE_GOLDEN=1 npx jest test/unit/providers/changes-golden` and review the diff in the commit.
 *
 *  - changed:  changedFixture over a host holding webFixture, live without kernel positions (as a
 *              plan file carries it): whole-chain rewrites, orphan chain and set removal;
 *  - edited:   one member joins peers-v4 and one rule leaves pu-web-in, live from a read (rule
 *              handles / positions): element delta and single-rule edits;
 *  - restored: webFixture over a host holding changedFixture: new set and chain, in order.
 */
import * as fs from 'fs';
import * as path from 'path';
import { createTwoFilesPatch } from 'diff';
import { providerFor, type BackendName, type Provider, type ScriptStep } from '../../../providers';
import { changesFor } from '../../../src/plan';
import type { DesiredRuleset } from '../../../src/compile/ir';
import type { LiveRuleset } from '../../../providers/types';
import { simulatedRead } from '../../../bench/render-bytes';
import { ADDR, changedFixture, webFixture } from '../../netns/fixtures';

const DIR = path.join(__dirname, '../../golden/providers');

function golden(file: string, actual: string): void {
  const p = path.join(DIR, file);
  if (process.env.UPDATE_GOLDEN === '1' || !fs.existsSync(p)) {
    fs.writeFileSync(p, actual);
    if (process.env.UPDATE_GOLDEN !== '1') throw new Error(`golden file ${file} did not exist and was written; review and commit it`);
    return;
  }
  const want = fs.readFileSync(p, 'utf8');
  if (want !== actual) {
    throw new Error(`renderChanges output differs from ${file} (UPDATE_GOLDEN=1 to accept):\n` + createTwoFilesPatch(`${file} (golden)`, `${file} (rendered)`, want, actual));
  }
}

const show = (steps: readonly ScriptStep[]) => steps.map((s) => `# ${s.argv.join(' ')}\n${s.stdin}`).join('\n');

/** changes is the provider's delta for `desired` over `live`, serialised (the host's ObjectDiff computed as plan does). */
function changes(p: Provider, desired: DesiredRuleset, live: LiveRuleset): ScriptStep[] {
  const c = changesFor(p, desired, live);
  if (c.kind !== 'delta') throw new Error(`expected a delta, got a full sync: ${c.reason}`);
  return c.transactions.map((tx) => p.serialize(tx));
}

function edited() {
  const d = webFixture();
  d.sets.find((s) => s.name === 'peers-v4')!.elements.push(`${ADDR.other4}/32`, '198.18.0.50/32');
  const web = d.chains.find((c) => c.name === 'pu-web-in')!;
  web.rules = web.rules.filter((r) => r.id !== 'w-rej9000');
  return d;
}

const BACKENDS: BackendName[] = ['nftables', 'iptables-nft', 'iptables-legacy'];

describe('golden renderChanges output', () => {
  it.each(BACKENDS)('%s: changed fixture over the web fixture (no positions)', (backend) => {
    const p = providerFor(backend);
    golden(`changes-${backend}.changed.golden`, show(changes(p, changedFixture(), p.expected(webFixture()))));
  });

  it.each(BACKENDS)('%s: one member and one rule edited (positions from a read)', (backend) => {
    const p = providerFor(backend);
    golden(`changes-${backend}.edited.golden`, show(changes(p, edited(), simulatedRead(backend, webFixture()))));
  });

  it.each(BACKENDS)('%s: web fixture over the changed fixture (new set and chain)', (backend) => {
    const p = providerFor(backend);
    golden(`changes-${backend}.restored.golden`, show(changes(p, webFixture(), p.expected(changedFixture()))));
  });
});
