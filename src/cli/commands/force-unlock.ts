/**
 * force-unlock ID: remove the state lock whose id is ID, and only that one (the id proves the
 * person read the holder's details, e.g. from a "lock is STALE" message). Never touches a host.
 * With backend "pg" it clears the holder record of a run whose database session is gone, and
 * refuses while that session is alive (the run is still going).
 */
import type { Io } from '../io';
import { viewFor } from '../views/view';
import { withBackend } from './backend';

export async function forceUnlockCommand(io: Io, id: string, dir: string): Promise<number> {
  return withBackend(viewFor(io, false), dir, {}, async ({ store }) => {
    await store.forceUnlock(id);
    io.out(`Lock ${id} removed. Before applying again, \`microseg plan\` shows what an interrupted run left behind.\n`);
    return 0;
  });
}
