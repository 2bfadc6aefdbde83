/**
 * cleanup: break-glass removal of every microseg object from one host, with no state at all
 * (DESIGN §5). `--enforcer NAME` finds the connection in the configuration, else in state;
 * `--netns N` and `--local` name the host directly. Every backend usable on the host is swept,
 * then read back: exit 0 only when nothing owned is left. Foreign rules are never touched, and
 * the state file is not modified (the next plan reads the host and settles it).
 */
import { cleanupHost, type CleanupReport } from '../../apply';
import { ApplyCodes } from '../../plan';
import { runPipeline } from '../../pipeline';
import { kernelConnector } from '../../../providers';
import { DiagnosticsError, makeDiagnostic } from '../../diagnostics';
import { connectionRecord, describeConnection, type Connection } from '../../hosts';
import { openStateStore } from '../../state';
import { readSettings } from '../../config/read-settings';
import type { CliDeps, Io } from '../io';
import { renderCleanupReport } from '../views/apply';
import { viewFor } from '../views/view';
import { parseVarFlags, type VarOptions } from './common';

export interface CleanupFlags extends VarOptions {
  enforcer?: string;
  netns?: string;
  local?: boolean;
  dir?: string;
  json?: boolean;
}

export async function cleanupCommand(io: Io, flags: CleanupFlags, deps: CliDeps = {}): Promise<number> {
  const view = viewFor(io, flags.json);
  const chosen = [flags.enforcer !== undefined, flags.netns !== undefined, flags.local === true].filter(Boolean).length;
  if (chosen !== 1) {
    return view.fail([
      makeDiagnostic('error', ApplyCodes.badFlag, 'cleanup needs exactly one of --enforcer NAME, --netns NAME or --local', 'For example: microseg cleanup --netns web-1'),
    ]);
  }
  let connection: Connection;
  if (flags.local) connection = { type: 'local' };
  else if (flags.netns !== undefined) connection = { type: 'netns', netns: flags.netns };
  else {
    const found = await enforcerConnection(flags.dir ?? '.', flags.enforcer!, flags);
    if (!found) {
      return view.fail([
        makeDiagnostic(
          'error',
          ApplyCodes.unknownTarget,
          `No enforcer "${flags.enforcer}" in the configuration or state of ${flags.dir ?? '.'}`,
          'Name the host directly with --netns NAME or --local.',
        ),
      ]);
    }
    connection = found;
  }
  let report: CleanupReport;
  try {
    report = await cleanupHost((deps.connect ?? kernelConnector())(connection));
  } catch (e) {
    if (DiagnosticsError.isInstance(e)) return view.thrown(e);
    if (!(e instanceof Error)) throw e;
    // The transport failed (namespace gone, ssh refused) or the connection cannot be used.
    return view.fail([
      makeDiagnostic('error', ApplyCodes.cleanupUnreachable, `Cannot clean up ${describeConnection(connection)}`, `${e.message}\nNothing was changed on it.`),
    ]);
  }
  view.result((out) => renderCleanupReport(out, report), () => ({ ...report }));
  return report.ok ? 0 : 1;
}

/** enforcerConnection looks the enforcer up in the configuration (if it loads) and then in state. */
async function enforcerConnection(dir: string, name: string, flags: VarOptions): Promise<Connection | undefined> {
  const { vars } = parseVarFlags(flags.var);
  const loaded = await runPipeline(dir, { vars, varFiles: flags.varFile }).catch(() => undefined);
  const e = loaded?.model?.enforcers.find((x) => x.name === name);
  if (e) return connectionRecord(e.connection);
  // Break-glass: the state is only a fallback for the connection; no backend, no fallback.
  const settings = (await readSettings(dir).catch(() => undefined))?.settings;
  if (!settings) return undefined;
  const opened = await openStateStore(dir, settings).catch(() => undefined);
  if (!opened) return undefined;
  try {
    const state = await opened.store.load().catch(() => undefined);
    return state?.hosts[name]?.connection;
  } finally {
    await opened.store.close();
  }
}
