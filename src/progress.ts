/**
 * Progress of long work (parsing many files, reading or programming many hosts), reported by the
 * core as data to whoever asked; the core never prints. The CLI turns it into one redrawn line on
 * stderr when stderr is a terminal and the output is not --json (src/cli/views/progress.ts), and
 * ignores it otherwise.
 */

/** Progress is one step: `done` of `total` finished in `phase`; `item` names the one just finished or started. */
export interface Progress {
  phase: 'parse' | 'validate' | 'refresh' | 'apply';
  done: number;
  total: number;
  item?: string;
}

/** ProgressSink receives progress; it must not throw, and its return value is ignored. */
export type ProgressSink = (p: Progress) => void;
