/**
 * Progress of long work on a terminal: one line on stderr, redrawn in place (`\r` and erase to end
 * of line), erased when the work ends or before anything else is printed, so it never mixes with
 * the output that follows. It is drawn only when stderr is a terminal and the command is not
 * --json; otherwise the sink does nothing, so logs, CI output and JSON documents get nothing extra.
 *
 * No library: what is needed is one carriage-return line with two ANSI sequences every terminal
 * microseg supports; a progress-bar package would add a dependency for that and its own timers.
 */
import type { Progress, ProgressSink } from '../../progress';
import type { Io } from '../io';

const ERASE = '\r\x1b[K';
const WIDTH = 78;
const LABEL: Record<Progress['phase'], string> = {
  parse: 'Reading configuration',
  validate: 'Validating',
  refresh: 'Reading hosts',
  apply: 'Applying',
};

/** TerminalProgress draws progress; `clear` erases the line (call it before printing anything else). */
export interface TerminalProgress {
  readonly enabled: boolean;
  report: ProgressSink;
  clear(): void;
}

/** progressLine is the text drawn for `p` (without the control sequences), at most WIDTH characters. */
export function progressLine(p: Progress): string {
  const count = p.total > 0 && p.phase !== 'validate' ? ` ${p.done}/${p.total}` : '';
  const what = p.phase === 'validate' ? ` ${p.total} resources` : '';
  const line = `${LABEL[p.phase]}${count}${what}${p.item ? ` · ${p.item}` : ''}…`;
  return line.length > WIDTH ? `${line.slice(0, WIDTH - 1)}…` : line;
}

/** terminalProgress returns a drawing sink when stderr is a terminal and the output is not JSON, else one that does nothing. */
export function terminalProgress(io: Io, json: boolean | undefined): TerminalProgress {
  if (!io.errIsTTY || json) return { enabled: false, report: () => undefined, clear: () => undefined };
  let shown = false;
  return {
    enabled: true,
    report: (p) => {
      io.err(ERASE + progressLine(p));
      shown = true;
    },
    clear: () => {
      if (shown) io.err(ERASE);
      shown = false;
    },
  };
}
