/**
 * force-unlock ID: remove the state lock whose id is ID, and only that one (the id proves the
 * person read the holder's details, e.g. from a "lock is STALE" message). Never touches a host.
 */
import { LocalStateStore } from '../../state';
import type { Io } from '../io';
import { failWith } from './plan';

export async function forceUnlockCommand(io: Io, id: string, dir: string): Promise<number> {
  try {
    await new LocalStateStore(dir).forceUnlock(id);
    io.out(`Lock ${id} removed. Before applying again, \`microseg plan\` shows what an interrupted run left behind.\n`);
    return 0;
  } catch (e) {
    return failWith(io, e);
  }
}
