/**
 * The SARIF view (`validate --format sarif`, `test --format sarif`): every diagnostic a run
 * reports, as one SARIF 2.1.0 log on stdout, so code-scanning tools (GitHub's
 * upload-sarif, IDEs) show microseg's findings on the lines they concern.
 *
 * Mapping, from the same Diagnostic data the human and JSON views print:
 * - one `run` whose `tool.driver` is microseg, with one reporting descriptor (`rules[]`) per
 *   diagnostic code; a result's `ruleId` is its code (MSEG3010) and `ruleIndex` points at it;
 * - `level`: error → "error", warning → "warning";
 * - `message.text`: the summary, then the detail;
 * - a diagnostic with a file becomes a `physicalLocation`: the file as a URI relative to the
 *   directory microseg ran in (`originalUriBaseIds.SRCROOT`), which in CI is the checkout, so the
 *   finding lands on the file in the repository; `region` has `startLine` and, when known,
 *   `startColumn` (1-based, counted in UTF-16 code units like SARIF's default `columnKind`);
 * - `address` (enforcer.web-1, network_policy.x) becomes a `logicalLocation`. A diagnostic with
 *   neither (a bad flag) has no location; SARIF allows that.
 * The exit code stays the command's own: SARIF is how findings are shown, not whether they fail.
 */
import * as path from 'path';
import { pathToFileURL } from 'url';
import type * as Sarif from 'sarif';
import { limitPerFile, sortDiagnostics, type Diagnostic } from '../../diagnostics';
import { PACKAGE_VERSION } from '../../version';
import type { Io } from '../io';
import { DocumentView, type View } from './view';

/** SARIF_SCHEMA is the `$schema` a SARIF 2.1.0 log names (the OASIS schema, as SchemaStore serves it). */
export const SARIF_SCHEMA = 'https://json.schemastore.org/sarif-2.1.0.json';

/** sarifLog builds the SARIF 2.1.0 log of `ds` (see the module comment); `cwd` anchors file URIs. */
export function sarifLog(ds: readonly Diagnostic[], cwd: string = process.cwd()): Sarif.Log {
  const rules: Sarif.ReportingDescriptor[] = [];
  const ruleIndex = new Map<string, number>();
  const results: Sarif.Result[] = [];
  // Limited per file like the other views: the first problems of a file cause the rest.
  for (const d of sortDiagnostics(limitPerFile(ds))) {
    let index = ruleIndex.get(d.code);
    if (index === undefined) {
      index = rules.length;
      ruleIndex.set(d.code, index);
      // Codes have no registry of titles at run time; the first occurrence's summary names the rule.
      rules.push({ id: d.code, shortDescription: { text: d.summary }, defaultConfiguration: { level: d.severity } });
    }
    const result: Sarif.Result = {
      ruleId: d.code,
      ruleIndex: index,
      level: d.severity,
      message: { text: d.detail ? `${d.summary}\n${d.detail}` : d.summary },
    };
    const location: Sarif.Location = {};
    if (d.file) {
      const region: Sarif.Region | undefined = d.line ? { startLine: d.line, ...(d.column ? { startColumn: d.column } : {}) } : undefined;
      location.physicalLocation = { artifactLocation: artifactOf(d.file, cwd), ...(region ? { region } : {}) };
    }
    if (d.address) location.logicalLocations = [{ fullyQualifiedName: d.address }];
    if (location.physicalLocation || location.logicalLocations) result.locations = [location];
    results.push(result);
  }
  return {
    $schema: SARIF_SCHEMA,
    version: '2.1.0',
    runs: [
      {
        tool: { driver: { name: 'microseg', version: PACKAGE_VERSION, rules } },
        originalUriBaseIds: { SRCROOT: { uri: pathToFileURL(cwd.endsWith(path.sep) ? cwd : cwd + path.sep).href } },
        results,
      },
    ],
  };
}

/** artifactOf: a path inside `cwd` relative to SRCROOT (what code scanning needs), else an absolute file URI. */
function artifactOf(file: string, cwd: string): Sarif.ArtifactLocation {
  const abs = path.resolve(cwd, file);
  const rel = path.relative(cwd, abs);
  if (rel && !rel.startsWith('..') && !path.isAbsolute(rel)) {
    return { uri: rel.split(path.sep).map(encodeURIComponent).join('/'), uriBaseId: 'SRCROOT' };
  }
  return { uri: pathToFileURL(abs).href };
}

/**
 * SarifView collects every diagnostic of the run and prints the SARIF log once, when the command
 * ends (its result or its failure). Human-only lines (`say`, `note`) are dropped: stdout is the log.
 */
class SarifView extends DocumentView {
  result(): void {
    this.failure();
  }

  /** failure, like a result, is the SARIF log of every diagnostic: a failed run is a log too. */
  protected failure(): void {
    this.io.out(JSON.stringify(sarifLog(this.seen), null, 2) + '\n');
  }
}

/** sarifView is the View of a command run with `--format sarif`. */
export function sarifView(io: Io): View {
  return new SarifView(io);
}
