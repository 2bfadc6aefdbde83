/**
 * Migrated Aporeto network rule sets on a real kernel: the shop scenario (test/fixtures/aporeto)
 * is migrated, given three enforcer namespaces and its expectations (what Aporeto's rule sets
 * decided for each connection), applied with nftables, and every expectation is sent as real
 * packets through the sandbox. Each must pass live and agree with the offline trace: incoming
 * rules decide on the server's host, outgoing rules on the client's, and a connection between
 * processing units needs both.
 *
 * Namespaces are `mst<pid>-mr-*` (enforcers) and `mst<pid>-mrs-*` (the sandbox's bridge and
 * external stand-in); afterAll removes them, and a synchronous exit hook does if jest kills the
 * worker first.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadAndValidate } from '../../src/cli/commands/common';
import { BufferIo } from '../../src/cli/io';
import { main } from '../../src/cli/main';
import { compile } from '../../src/compile';
import { runProcess } from '../../src/hosts/exec';
import { planSandbox, readRecord, runLiveTests, sandboxDown, sandboxUp } from '../../src/sandbox';
import { SHOP_EXPECTATIONS, SHOP_TIERS, shopConfig } from '../fixtures/aporeto/shop';
import { deleteNetnsOnExit, describeAsRoot } from './harness';

const NS = `mst${process.pid}-mr`;
const PREFIX = `mst${process.pid}-mrs`;
const ENFORCER_NS = SHOP_TIERS.map((t) => `${NS}-${t.host}`);
const ALL_NS = [...ENFORCER_NS, `${PREFIX}-ext`, `${PREFIX}-br`];

deleteNetnsOnExit(ALL_NS);

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = new BufferIo();
  const code = await main(['node', 'microseg', ...args], io);
  return { code, out: io.stdout, err: io.stderr };
}

describeAsRoot('migrated network rule sets on a real kernel', () => {
  let dir: string;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mseg-migrate-netns-'));
    shopConfig(dir, NS);
  });

  afterAll(async () => {
    if (dir) {
      await cli('destroy', '--auto-approve', dir).catch(() => undefined);
      await sandboxDown(dir, { prefix: PREFIX, configNamespaces: ENFORCER_NS }).catch(() => undefined);
      fs.rmSync(dir, { recursive: true, force: true });
    }
    for (const ns of ALL_NS) await runProcess(['ip', 'netns', 'del', ns]).catch(() => undefined);
  });

  it('every connection is decided as Aporeto decided it, live and offline', async () => {
    const { model } = await loadAndValidate(dir, {});
    if (!model) throw new Error('the migrated shop does not validate');
    const planned = planSandbox(model, { prefix: PREFIX });
    if (!planned.plan) throw new Error(JSON.stringify(planned.diagnostics));
    await sandboxUp(dir, planned.plan);

    const applied = await cli('apply', '--auto-approve', dir);
    expect([applied.code, applied.err]).toEqual([0, expect.any(String)]);

    const record = await readRecord(dir);
    if (!record) throw new Error('no sandbox record');
    const report = await runLiveTests(model, compile(model, { now: new Date() }).rulesets, record);
    expect(report.hosts.map((h) => [h.enforcer, h.in_sync, h.backend])).toEqual([
      ['backend-1', true, 'nftables'],
      ['database-1', true, 'nftables'],
      ['frontend-1', true, 'nftables'],
    ]);
    expect(report.bugs).toEqual([]);
    const rows = report.results.map((r) => [r.name, r.checkable, r.offline, r.live, r.pass]);
    expect(rows.sort()).toEqual(SHOP_EXPECTATIONS.map(([name, , , , verdict]) => [name, true, verdict, verdict, true]).sort());
  });
});
