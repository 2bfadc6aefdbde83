import type { Connector } from '../../providers';

/**
 * CliDeps are what the commands that touch hosts may be given instead of the real thing: `connect`
 * opens enforcer hosts (default: the real transports and providers). The unit tests run the whole
 * CLI against the in-memory firewall through it (test/unit/fake), without root.
 */
export interface CliDeps {
  connect?: Connector;
}

/** Io is where views write; the CLI passes process streams, tests pass buffers. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** Whether stdout is a terminal (colour, prompts). */
  isTTY: boolean;
  /** Whether stderr is a terminal: progress of long work is drawn there only then (views/progress.ts). */
  errIsTTY?: boolean;
}

export const processIo: Io = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
  isTTY: Boolean(process.stdout.isTTY),
  errIsTTY: Boolean(process.stderr.isTTY),
};

/** BufferIo collects output, for tests and for commands that must print nothing on error. */
export class BufferIo implements Io {
  stdout = '';
  stderr = '';
  isTTY = false;
  errIsTTY = false;
  out(t: string): void {
    this.stdout += t;
  }
  err(t: string): void {
    this.stderr += t;
  }
}
