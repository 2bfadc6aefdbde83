/**
 * init [-migrate-state]: prepare the configured backend (pg: connect, create the schema and run
 * its migrations) and, with -migrate-state, move the local state into it. The copy keeps lineage
 * and serial, so saved plans and the next plan see the same state; the local file stays beside
 * as `state.json.migrated`, a backup that no command reads as state.
 */
import { promises as fsp } from 'fs';
import * as path from 'path';
import { makeDiagnostic } from '../../diagnostics';
import { LocalStateStore, MIGRATED_SUFFIX, STATE_DIR, StateCodes } from '../../state';
import type { Io } from '../io';
import { viewFor } from '../views/view';
import { withBackend } from './backend';
import { withLock } from './plan';
import { parseLockTimeout } from '../../apply';

export interface InitFlags {
  migrateState?: boolean;
  lockTimeout?: string;
}

export async function initCommand(io: Io, dir: string, flags: InitFlags): Promise<number> {
  const view = viewFor(io, false);
  const timeout = parseLockTimeout(flags.lockTimeout ?? '0s') ?? 0;
  return withBackend(view, dir, {}, async (opened) => {
    if (opened.kind === 'local') {
      io.out(`Backend "local": state in ${opened.store.stateDir}. Nothing to prepare.\n`);
      return 0;
    }
    const pg = opened.store;
    await pg.connect();
    const local = new LocalStateStore(dir);
    const localState = await local.load();
    if (!localState) {
      io.out(`Backend "pg" ready: ${pg.description} (schema migrated to the current version).\n`);
      return 0;
    }
    if (!flags.migrateState) {
      return view.fail([
        makeDiagnostic(
          'error',
          StateCodes.backendMismatch,
          `The configuration selects backend "pg", but the state is in ${local.statePath}`,
          'Run `microseg init -migrate-state` to copy it into PostgreSQL (lineage and serial kept, the file left as a backup).',
        ),
      ]);
    }
    // Both locks: no local run may write the file, and no pg run the workspace, while it moves.
    return withLock(local, 'init -migrate-state', timeout, true, () =>
      withLock(pg, 'init -migrate-state', timeout, true, async () => {
        const there = await pg.load();
        if (there && there.lineage !== localState.lineage) {
          return view.fail([
            makeDiagnostic(
              'error',
              StateCodes.migrateRefused,
              `Refusing to migrate: workspace "${pg.workspace}" already holds another state`,
              `It has lineage ${there.lineage} (serial ${there.serial}); ${local.statePath} has lineage ${localState.lineage}. ` +
                'Select another workspace (`microseg workspace new NAME`), or compare both (`microseg state pull`) before `state push -force`.',
            ),
          ]);
        }
        if (there && there.serial > localState.serial) {
          return view.fail([
            makeDiagnostic(
              'error',
              StateCodes.migrateRefused,
              `Refusing to migrate: workspace "${pg.workspace}" holds a newer serial of this state`,
              `PostgreSQL has serial ${there.serial}, ${local.statePath} serial ${localState.serial}: someone applied from PostgreSQL since. ` +
                `Nothing was copied; move ${local.statePath} away once you have checked it is obsolete.`,
            ),
          ]);
        }
        if (!there || there.serial < localState.serial) await pg.replace(localState);
        const backup = local.statePath + MIGRATED_SUFFIX;
        await fsp.rename(local.statePath, backup);
        io.out(
          `Migrated the state (lineage ${localState.lineage}, serial ${localState.serial}) to ${pg.description}.\n` +
            `The local copy is kept as ${path.join(STATE_DIR, path.basename(backup))}; no command reads it as state.\n`,
        );
        return 0;
      }),
    );
  });
}
