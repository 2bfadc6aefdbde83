/**
 * `microseg server --listen ADDR:PORT`: the control plane. Runs until SIGINT/SIGTERM; logs one
 * line per registration, renewal and refusal on stderr (never a token, key or connection string).
 */
import { openControl } from '../../control/open';
import { startControlServer } from '../../control/server';
import { DiagnosticsError, makeDiagnostic } from '../../diagnostics';
import type { Io } from '../io';
import { viewFor } from '../views/view';
import { asControlDiagnostics } from './control';

export interface ServerFlags {
  listen: string;
  san?: string;
  workspace?: string;
  schema?: string;
}

export async function serverCommand(io: Io, flags: ServerFlags, stop: Promise<void> = signalled()): Promise<number> {
  const view = viewFor(io, false);
  const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(flags.listen);
  if (!m || Number(m[2]) > 65535) {
    return view.thrown(new DiagnosticsError([makeDiagnostic('error', 'MSEG9837', `--listen ${JSON.stringify(flags.listen)} is not ADDR:PORT`, 'For example --listen 198.18.0.1:8443 or --listen [2001:db8::1]:8443.')]));
  }
  const host = m[1].replace(/^\[|\]$/g, '');
  try {
    const c = await openControl({ schema: flags.schema, workspace: flags.workspace, poolSize: 10 });
    try {
      const srv = await startControlServer({
        store: c.store,
        host,
        port: Number(m[2]),
        san: (flags.san ?? '').split(',').map((s) => s.trim()).filter(Boolean),
        log: (l) => io.err(`${new Date().toISOString()} ${l}\n`),
      });
      io.err(`microseg server listening on ${srv.url} (workspace ${c.store.workspace})\n`);
      await stop;
      await srv.close();
      return 0;
    } finally {
      await c.close();
    }
  } catch (e) {
    return view.thrown(asControlDiagnostics(e));
  }
}

function signalled(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
}
