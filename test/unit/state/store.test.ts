import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'fs';
import * as path from 'path';
import { LocalStateStore, newState, withHost, withoutHost, ownedFromLive, StateCodes, type StateHost } from '../../../src/state';
import { connectionRecord } from '../../../src/hosts';
import type { LiveRuleset } from '../../../providers/types';
import { diagnosticsOf, tempProject } from './helpers';

const host: StateHost = {
  backend: 'nftables',
  connection: { type: 'netns', netns: 'mseg-web' },
  owned: { sets: [{ name: 'pu-web', family: 4, elements: ['198.18.0.2/32'] }], chains: [{ name: 'in', hook: 'input', ruleIds: ['a1'] }], hooks: [{ hook: 'input', family: 4 }] },
  fingerprint: 'fp1',
  status: 'applied',
  updated_at: '2025-01-01T00:00:00.000Z',
};

let project: ReturnType<typeof tempProject>;
beforeEach(() => {
  project = tempProject();
});
afterEach(() => project.cleanup());

describe('LocalStateStore load/save', () => {
  it('has no state until the first save', async () => {
    const store = new LocalStateStore(project.dir);
    expect(await store.load()).toBeUndefined();
    expect(store.statePath).toBe(path.join(project.dir, '.microseg', 'state.json'));
  });

  it('increments serial on every write and keeps lineage fixed', async () => {
    const store = new LocalStateStore(project.dir);
    const s0 = newState();
    expect(s0.serial).toBe(0);
    const s1 = await store.save(withHost(s0, 'web-1', host));
    expect(s1.serial).toBe(1);
    const s2 = await store.save(s1);
    expect(s2.serial).toBe(2);
    const loaded = await store.load();
    expect(loaded).toEqual(s2);
    expect(loaded!.lineage).toBe(s0.lineage);
    expect(loaded!.lineage).toMatch(/^[0-9a-f-]{36}$/);
    expect(loaded!.version).toBe(1);
    expect(loaded!.hosts['web-1']).toEqual(host);
  });

  it('keeps the previous state as state.json.backup', async () => {
    const store = new LocalStateStore(project.dir);
    const s1 = await store.save(withHost(newState(), 'web-1', host));
    expect(existsSync(store.backupPath)).toBe(false);
    const s2 = await store.save(withoutHost(s1, 'web-1'));
    const backup = JSON.parse(readFileSync(store.backupPath, 'utf8'));
    expect(backup).toEqual(s1);
    expect((await store.load())!.hosts).toEqual({});
    expect(s2.serial).toBe(2);
    // The backup is a hard link to the replaced file, never to the current one: saving again
    // moves it on by one version and leaves the current state untouched.
    const s3 = await store.save(withHost(s2, 'web-2', host));
    expect(JSON.parse(readFileSync(store.backupPath, 'utf8'))).toEqual(s2);
    expect(statSync(store.backupPath).ino).not.toBe(statSync(store.statePath).ino);
    expect(await store.load()).toEqual(s3);
    expect(readdirSync(store.stateDir).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });

  it('a crash between temp write and rename leaves the old state readable', async () => {
    const first = new LocalStateStore(project.dir);
    const s1 = await first.save(withHost(newState(), 'web-1', host));
    const crashing = new LocalStateStore(project.dir, {
      beforeRename: () => {
        throw new Error('simulated crash');
      },
    });
    const ds = await diagnosticsOf(crashing.save(withoutHost(s1, 'web-1')));
    expect(ds[0]).toMatchObject({ code: StateCodes.io, detail: 'simulated crash' });
    expect(await first.load()).toEqual(s1);
    // the failed write cleaned up after itself
    expect(readdirSync(first.stateDir).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });

  it('a temp file left by a killed writer is ignored by load and swept by the next save', async () => {
    const store = new LocalStateStore(project.dir);
    const s1 = await store.save(withHost(newState(), 'web-1', host));
    // What kill -9 after the temp write and before the rename leaves: a complete temp file of a
    // process that no longer exists (pid 2^22 + 1 is above Linux's pid_max default).
    const orphanTemp = path.join(store.stateDir, `.state.json.tmp-4194305-deadbeef`);
    writeFileSync(orphanTemp, JSON.stringify({ ...s1, serial: 99 }));
    expect(await store.load()).toEqual(s1);
    const s2 = await store.save(s1);
    expect(s2.serial).toBe(2);
    expect(existsSync(orphanTemp)).toBe(false);
  });

  it('a backup link left by a killed writer is swept by the next save', async () => {
    const store = new LocalStateStore(project.dir);
    const s1 = await store.save(withHost(newState(), 'web-1', host));
    const orphanLink = path.join(store.stateDir, `.state.json.backup.tmp-4194305-deadbeef`);
    writeFileSync(orphanLink, JSON.stringify(s1));
    await store.save(s1);
    expect(existsSync(orphanLink)).toBe(false);
    expect(JSON.parse(readFileSync(store.backupPath, 'utf8'))).toEqual(s1);
  });

  it('refuses a state written by a newer microseg, with a clear diagnostic', async () => {
    const store = new LocalStateStore(project.dir);
    await store.save(newState());
    writeFileSync(store.statePath, JSON.stringify({ version: 2, serial: 7, lineage: 'x', microseg_version: '9.0.0', whatever: true }));
    const ds = await diagnosticsOf(store.load());
    expect(ds).toHaveLength(1);
    expect(ds[0].code).toBe(StateCodes.versionTooNew);
    expect(ds[0].summary).toContain('format version 2, newer than this microseg supports (1)');
    expect(ds[0].detail).toContain('written by microseg 9.0.0');
    expect(ds[0].detail).toContain('Upgrade microseg');
    // and save refuses to overwrite it
    expect((await diagnosticsOf(store.save(newState())))[0].code).toBe(StateCodes.versionTooNew);
  });

  it('reports a corrupt state file, pointing at the backup', async () => {
    const store = new LocalStateStore(project.dir);
    await store.save(newState());
    writeFileSync(store.statePath, '{"version": 1, "serial": ');
    const ds = await diagnosticsOf(store.load());
    expect(ds[0].code).toBe(StateCodes.corrupt);
    expect(ds[0].detail).toContain('not valid JSON');
    expect(ds[0].detail).toContain('state.json.backup');
    writeFileSync(store.statePath, JSON.stringify({ version: 1, serial: 1, lineage: 'l', microseg_version: 'x', resources: [], hosts: { a: { backend: 'pf' } } }));
    const ds2 = await diagnosticsOf(store.load());
    expect(ds2[0].code).toBe(StateCodes.corrupt);
    expect(ds2[0].detail).toContain('hosts.a.backend');
  });

  it('refuses to save over another lineage or a newer serial', async () => {
    const store = new LocalStateStore(project.dir);
    const s1 = await store.save(newState());
    const other = await diagnosticsOf(store.save(newState()));
    expect(other[0].code).toBe(StateCodes.lineageMismatch);
    await store.save(s1); // serial 2 on disk now
    const old = await diagnosticsOf(store.save(s1));
    expect(old[0].code).toBe(StateCodes.serialConflict);
    expect(old[0].detail).toContain('serial 2');
    expect((await store.load())!.serial).toBe(2);
  });

  it('a save notices another store\'s write (rename) and an edit in place, though it remembers what it last wrote', async () => {
    const mine = new LocalStateStore(project.dir);
    const s1 = await mine.save(newState());
    const theirs = new LocalStateStore(project.dir);
    await theirs.save(s1); // serial 2, a new file renamed into place
    expect((await diagnosticsOf(mine.save(s1)))[0].code).toBe(StateCodes.serialConflict);
    const s2 = (await mine.load())!;
    const s3 = await mine.save(s2);
    // Edited in place behind its back (same inode, new content and times): read again and refused.
    writeFileSync(mine.statePath, JSON.stringify({ ...s3, serial: 9 }, null, 2) + '\n');
    const refused = await diagnosticsOf(mine.save(s3));
    expect(refused[0].code).toBe(StateCodes.serialConflict);
    expect(refused[0].detail).toContain('serial 9');
  });

  it('two concurrent saves from the same serial: one wins, the other is refused, none is lost', async () => {
    const store = new LocalStateStore(project.dir);
    const s1 = await store.save(newState());
    const results = await Promise.allSettled([store.save(withHost(s1, 'web-1', host)), store.save(withHost(s1, 'db-1', host))]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected']);
    const loaded = (await store.load())!;
    expect(loaded.serial).toBe(2);
    expect(Object.keys(loaded.hosts)).toEqual(['web-1']);
    // the loser re-derives from what was saved
    const s3 = await store.save(withHost(loaded, 'db-1', host));
    expect(Object.keys(s3.hosts)).toEqual(['db-1', 'web-1']);
  });

  it('writes the state file 0600 in a 0700 directory', async () => {
    const store = new LocalStateStore(project.dir);
    await store.save(newState());
    const { statSync } = await import('fs');
    expect(statSync(store.statePath).mode & 0o777).toBe(0o600);
    expect(statSync(store.stateDir).mode & 0o777).toBe(0o700);
  });
});

describe('state helpers', () => {
  it('ownedFromLive records exactly what was read back, hooks only where present', () => {
    const live: LiveRuleset = {
      backend: 'iptables-nft',
      fingerprint: 'f',
      sets: [
        { name: 'b', family: 6, elements: ['2001:db8::/64'], comment: 'x' },
        { name: 'a', family: 4, elements: [] },
      ],
      chains: [{ name: 'in', hook: 'input', ruleIds: ['r1', 'r2'], foreignRules: 1 }, { name: 'pu-web', ruleIds: [], foreignRules: 0 }],
      hooks: [
        { hook: 'input', family: 4, present: true, first: false, count: 1 },
        { hook: 'input', family: 6, present: false, first: false, count: 0 },
      ],
    };
    const owned = ownedFromLive(live);
    expect(owned).toEqual({
      sets: [
        { name: 'a', family: 4, elements: [] },
        { name: 'b', family: 6, elements: ['2001:db8::/64'] },
      ],
      chains: [{ name: 'in', hook: 'input', ruleIds: ['r1', 'r2'] }, { name: 'pu-web', ruleIds: [] }],
      hooks: [{ hook: 'input', family: 4 }],
    });
  });

  it('connectionRecord keeps how to reach a host and nothing else', () => {
    const ssh = { type: 'ssh' as const, host: '198.18.0.5', user: 'root', port: 22, privateKeyFile: '/k', strictHostKeyChecking: true, password: 'hunter2' };
    expect(connectionRecord(ssh)).toEqual({ type: 'ssh', host: '198.18.0.5', user: 'root', port: 22, privateKeyFile: '/k', strictHostKeyChecking: true });
    expect(JSON.stringify(connectionRecord(ssh))).not.toContain('hunter2');
    expect(connectionRecord({ type: 'netns', netns: 'n1' })).toEqual({ type: 'netns', netns: 'n1' });
  });

  it('the state file spells a connection in snake_case and memory in camelCase, converted at the file edge', async () => {
    const dir = project.dir;
    const store = new LocalStateStore(dir);
    const ssh = { type: 'ssh' as const, host: '198.18.0.5', user: 'root', port: 2222, knownHostsFile: '/kh', strictHostKeyChecking: false };
    const host: StateHost = { backend: 'nftables', connection: ssh, owned: { sets: [], chains: [], hooks: [] }, fingerprint: 'f', status: 'applied', updated_at: '2026-01-01T00:00:00.000Z' };
    await store.save(withHost(newState(), 'e1', host));
    const file = JSON.parse(readFileSync(path.join(dir, '.microseg', 'state.json'), 'utf8'));
    expect(file.hosts.e1.connection).toEqual({ type: 'ssh', host: '198.18.0.5', user: 'root', port: 2222, known_hosts_file: '/kh', strict_host_key_checking: false });
    expect((await new LocalStateStore(dir).load())!.hosts.e1.connection).toEqual(ssh);
  });
});
