/**
 * View: how one command run reports, chosen once when the command starts (Terraform's
 * views.NewPlan(viewType, ...) pattern): human text, or one JSON document. Commands hand data to
 * the view and never branch on `--json` themselves; core code never prints (PRACTICES 11).
 *
 * The human view writes diagnostics to stderr as they come (compiler style, warnings before
 * errors) and results to stdout. The JSON view keeps diagnostics and writes exactly one document
 * to stdout at the end of the run: the command's result with its diagnostics, or on failure just
 * `{"diagnostics": [...]}`, so a pipeline can always parse what it gets.
 */
import { DiagnosticsError, type Diagnostic } from '../../diagnostics';
import type { Io } from '../io';
import { countLine, diagnosticsJson, renderDiagnosticsHuman } from './diagnostics';

export interface View {
  readonly json: boolean;
  readonly io: Io;
  /** diagnostics reports problems found along the way (JSON: carried into the document). */
  diagnostics(ds: readonly Diagnostic[], sources?: ReadonlyMap<string, string>): void;
  /**
   * fail ends the run with `ds`: human, the diagnostics and then `closing` on stderr; JSON, one
   * `{"diagnostics"}` document holding everything reported so far. Returns exit code 1.
   */
  fail(ds: readonly Diagnostic[], closing?: string, sources?: ReadonlyMap<string, string>): number;
  /** thrown is `fail` for an error core code threw: a DiagnosticsError. Anything else is a bug and propagates. */
  thrown(e: unknown): number;
  /**
   * result prints the run's outcome: `human` renders it (after the diagnostics), or `doc` is the
   * JSON document (its `diagnostics` field, when it has one, gets every diagnostic reported).
   */
  result(human: (io: Io) => void, doc: () => Record<string, unknown> | string): void;
  /** say is a line for people on stdout (JSON: nothing; the document carries the data). */
  say(text: string): void;
  /** note is a closing remark for people on stderr (JSON: nothing). */
  note(text: string): void;
  /** every diagnostic reported so far (for documents that carry them). */
  readonly reported: readonly Diagnostic[];
}

class HumanView implements View {
  readonly json = false;
  private readonly seen: Diagnostic[] = [];

  constructor(readonly io: Io) {}

  get reported(): readonly Diagnostic[] {
    return this.seen;
  }

  diagnostics(ds: readonly Diagnostic[], sources?: ReadonlyMap<string, string>): void {
    this.seen.push(...ds);
    renderDiagnosticsHuman(this.io, ds, sources);
  }

  fail(ds: readonly Diagnostic[], closing?: string, sources?: ReadonlyMap<string, string>): number {
    this.diagnostics(ds, sources);
    if (closing) this.io.err(`${closing.replace(/\{count\}/g, countLine(ds))}\n`);
    return 1;
  }

  thrown(e: unknown): number {
    if (DiagnosticsError.isInstance(e)) return this.fail(e.diagnostics);
    throw e;
  }

  result(human: (io: Io) => void): void {
    human(this.io);
  }

  say(text: string): void {
    this.io.out(`${text}\n`);
  }

  note(text: string): void {
    this.io.err(`${text}\n`);
  }
}

/**
 * DocumentView is a view whose stdout is one machine-readable document (JSON, SARIF): it keeps
 * every diagnostic for that document, prints the document on failure (`failure`) and drops the
 * lines meant for people.
 */
export abstract class DocumentView implements View {
  readonly json = true;
  protected readonly seen: Diagnostic[] = [];

  constructor(readonly io: Io) {}

  get reported(): readonly Diagnostic[] {
    return this.seen;
  }

  diagnostics(ds: readonly Diagnostic[]): void {
    this.seen.push(...ds);
  }

  fail(ds: readonly Diagnostic[]): number {
    this.seen.push(...ds);
    this.failure();
    return 1;
  }

  thrown(e: unknown): number {
    if (DiagnosticsError.isInstance(e)) return this.fail(e.diagnostics);
    throw e;
  }

  abstract result(human: (io: Io) => void, doc: () => Record<string, unknown> | string): void;

  /** failure prints the document of a failed run: every diagnostic reported. */
  protected abstract failure(): void;

  say(): void {}

  note(): void {}
}

class JsonView extends DocumentView {
  protected failure(): void {
    this.io.out(JSON.stringify({ diagnostics: diagnosticsJson(this.seen) }, null, 2) + '\n');
  }

  result(_human: (io: Io) => void, doc: () => Record<string, unknown> | string): void {
    const d = doc();
    if (typeof d === 'string') {
      this.io.out(d.endsWith('\n') ? d : `${d}\n`);
      return;
    }
    const out = 'diagnostics' in d ? { ...d, diagnostics: diagnosticsJson(this.seen) } : d;
    this.io.out(JSON.stringify(out, null, 2) + '\n');
  }
}

/** viewFor chooses the view of one command run: JSON when `json`, human otherwise. */
export function viewFor(io: Io, json: boolean | undefined): View {
  return json ? new JsonView(io) : new HumanView(io);
}
