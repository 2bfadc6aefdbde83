/**
 * The sandbox record, DIR/.microseg/sandbox.json: what `sandbox up` created, so `sandbox down`
 * removes exactly that. It is written BEFORE anything is created (status `creating`, with every
 * namespace it is about to make) and again when done (status `up`, with listener pids), so a crash
 * at any point leaves a record that names everything that may exist.
 */
import { promises as fsp } from 'fs';
import * as path from 'path';
import { STATE_DIR } from '../state/local';
import { atomicWriteFile } from '../state/fsutil';
import type { ListenerSpec, SandboxPlan } from './topology';

export const RECORD_VERSION = 1;
export const RECORD_FILE = 'sandbox.json';

export interface ListenerRecord extends ListenerSpec {
  pid?: number;
}

export interface SandboxRecord {
  version: typeof RECORD_VERSION;
  /** Absolute configuration directory the sandbox was built for. */
  dir: string;
  status: 'creating' | 'up';
  createdAt: string;
  /** Every namespace this sandbox creates, bridge first. */
  namespaces: string[];
  plan: SandboxPlan;
  listeners: ListenerRecord[];
}

export function recordPath(dir: string): string {
  return path.join(dir, STATE_DIR, RECORD_FILE);
}

/** readRecord returns the record, undefined when there is none, and throws on a corrupt one. */
export async function readRecord(dir: string): Promise<SandboxRecord | undefined> {
  let text: string;
  try {
    text = await fsp.readFile(recordPath(dir), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  const r = JSON.parse(text) as SandboxRecord;
  if (r.version !== RECORD_VERSION || !Array.isArray(r.namespaces) || !r.plan) {
    throw new Error(`${recordPath(dir)} is not a sandbox record of version ${RECORD_VERSION}`);
  }
  return r;
}

export async function writeRecord(dir: string, record: SandboxRecord): Promise<void> {
  await fsp.mkdir(path.join(dir, STATE_DIR), { recursive: true });
  await atomicWriteFile(recordPath(dir), JSON.stringify(record, null, 2) + '\n', { mode: 0o644 });
}

export async function removeRecord(dir: string): Promise<boolean> {
  try {
    await fsp.unlink(recordPath(dir));
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}
