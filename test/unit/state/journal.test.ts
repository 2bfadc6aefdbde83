import { appendFileSync, existsSync, readFileSync } from 'fs';
import { LocalStateStore, unfinishedHosts, type JournalEntry } from '../../../src/state';
import { tempProject } from './helpers';

let project: ReturnType<typeof tempProject>;
beforeEach(() => {
  project = tempProject();
});
afterEach(() => project.cleanup());

const e = (enforcer: string, phase: JournalEntry['phase'], run_id = 'run-1', detail?: string): JournalEntry => ({
  ts: '2025-01-01T00:00:00.000Z',
  run_id,
  enforcer,
  phase,
  ...(detail ? { detail } : {}),
});

describe('journal', () => {
  it('taking the lock rotates a journal past its size limit, keeping it as journal.jsonl.1 and carrying interrupted runs over', async () => {
    const store = new LocalStateStore(project.dir, { journalMaxBytes: 600 });
    for (const x of [e('web-1', 'begin'), e('web-1', 'applied'), e('web-1', 'verified'), e('db-1', 'begin', 'run-2'), e('db-1', 'applied', 'run-2')]) await store.journal(x);
    const before = readFileSync(store.journalPath, 'utf8');
    // Under the limit: taking the lock leaves it alone.
    let lock = await store.acquireLock({ operation: 'apply', timeoutMs: 0 });
    await store.unlock(lock);
    expect(readFileSync(store.journalPath, 'utf8')).toBe(before);
    for (let i = 0; i < 5; i++) await store.journal(e('api-1', 'verified', `run-${3 + i}`));
    const full = readFileSync(store.journalPath, 'utf8');
    expect(full.length).toBeGreaterThan(600);

    lock = await store.acquireLock({ operation: 'apply', timeoutMs: 0 });
    expect(readFileSync(`${store.journalPath}.1`, 'utf8')).toBe(full);
    // db-1's last entry is an interrupted run: plan must still see it. web-1 and api-1 finished.
    expect(await store.readJournal()).toEqual([e('db-1', 'applied', 'run-2')]);
    expect(unfinishedHosts(await store.readJournal()).map((u) => u.enforcer)).toEqual(['db-1']);
    await store.journal(e('db-1', 'begin', 'run-9'));
    expect((await store.readJournal()).map((x) => `${x.enforcer}:${x.run_id}:${x.phase}`)).toEqual(['db-1:run-2:applied', 'db-1:run-9:begin']);
    await store.unlock(lock);
    expect(existsSync(store.journalPath + '.1.tmp-' + process.pid)).toBe(false);
  });

  it('appends one JSON line per entry, durably, and reads them back in order', async () => {
    const store = new LocalStateStore(project.dir);
    expect(await store.readJournal()).toEqual([]);
    await store.journal(e('web-1', 'begin'));
    await store.journal(e('web-1', 'applied', 'run-1', 'fingerprint abc'));
    await store.journal(e('web-1', 'verified'));
    const lines = readFileSync(store.journalPath, 'utf8').split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[3]).toBe('');
    expect(JSON.parse(lines[1])).toEqual(e('web-1', 'applied', 'run-1', 'fingerprint abc'));
    expect(await store.readJournal()).toEqual([e('web-1', 'begin'), e('web-1', 'applied', 'run-1', 'fingerprint abc'), e('web-1', 'verified')]);
  });

  it('skips a line torn by a crash mid-append and keeps appending after it', async () => {
    const store = new LocalStateStore(project.dir);
    await store.journal(e('web-1', 'begin'));
    appendFileSync(store.journalPath, '{"ts":"2025-01-01T00:00:00.000Z","run_id":"run-1","enf');
    await store.journal(e('db-1', 'begin', 'run-2'));
    // The next append starts a fresh line, so only the torn fragment is lost.
    expect((await store.readJournal()).map((x) => `${x.enforcer}:${x.phase}`)).toEqual(['web-1:begin', 'db-1:begin']);
    expect(readFileSync(store.journalPath, 'utf8').split('\n')[1]).toContain('"enf');
  });

  it('unfinishedHosts finds hosts a killed run began or applied but never verified', () => {
    const entries = [
      e('web-1', 'begin'),
      e('web-1', 'applied'),
      e('web-1', 'verified'),
      e('db-1', 'begin'),
      e('db-1', 'applied'),
      e('cache-1', 'begin'),
      e('cache-1', 'failed'),
      e('api-1', 'begin', 'run-2'),
    ];
    expect(unfinishedHosts(entries)).toEqual([
      { run_id: 'run-1', enforcer: 'db-1', phase: 'applied', ts: '2025-01-01T00:00:00.000Z' },
      { run_id: 'run-2', enforcer: 'api-1', phase: 'begin', ts: '2025-01-01T00:00:00.000Z' },
    ]);
  });
});
