/**
 * migrate: Aporeto import files (YAML/JSON) become microseg HCL on stdout; microseg HCL that still
 * uses the removed `protocols`/`ports` attributes is rewritten to `service_ports` (a diff on
 * stdout, in place with --write). Every file is converted before anything is written, so an error
 * in any file writes nothing at all.
 */
import * as fs from 'fs';
import * as path from 'path';
import { createTwoFilesPatch } from 'diff';
import { migrateAporeto, rewriteLegacyHcl } from '../../config/aporeto';
import { readInputFile } from '../../config/read-file';
import type { Diagnostic } from '../../diagnostics';
import type { Io } from '../io';
import { countLine, renderDiagnosticsHuman } from '../views/diagnostics';

interface PendingWrite {
  file: string;
  text: string;
}

export async function migrateCommand(io: Io, files: string[], opts: { write?: boolean }): Promise<number> {
  const diagnostics: Diagnostic[] = [];
  const sources = new Map<string, string>();
  const writes: PendingWrite[] = [];
  let stdout = '';
  for (const file of files) {
    const read = readInputFile(file, {
      what: file.endsWith('.hcl') ? 'configuration file' : 'import file',
      readErrorCode: 'MSEG5001',
      splitHint: 'Split it into several files and migrate them together (microseg migrate a.yaml b.yaml).',
      notRegularHint: 'Pass the path of an Aporeto import file (YAML or JSON) or a microseg *.hcl file.',
    });
    if (!('text' in read)) {
      diagnostics.push(read.diagnostic);
      continue;
    }
    const text = read.text;
    sources.set(file, text);
    if (file.endsWith('.hcl')) {
      const res = rewriteLegacyHcl(file, text);
      diagnostics.push(...res.diagnostics);
      if (res.changed) {
        stdout += createTwoFilesPatch(file, file, text, res.text, 'before', 'after (service_ports)');
        writes.push({ file, text: res.text });
      }
    } else {
      const res = migrateAporeto(file, text);
      diagnostics.push(...res.diagnostics);
      if (res.hcl !== undefined) {
        stdout += res.hcl;
        const target = path.join(path.dirname(file), path.basename(file).replace(/\.(ya?ml|json)$/i, '') + '.hcl');
        writes.push({ file: target, text: res.hcl });
      }
    }
  }
  if (diagnostics.some((d) => d.severity === 'error')) {
    renderDiagnosticsHuman(io, diagnostics, sources);
    io.err(`Nothing was written: ${countLine(diagnostics)}.\n`);
    return 1;
  }
  renderDiagnosticsHuman(io, diagnostics, sources);
  io.out(stdout);
  if (opts.write) {
    for (const w of writes) {
      // temp + rename: a crash mid-write never leaves a half-converted policy file behind.
      const tmp = `${w.file}.microseg-tmp`;
      fs.writeFileSync(tmp, w.text);
      fs.renameSync(tmp, w.file);
      io.err(`wrote ${w.file}\n`);
    }
  } else if (writes.length === 0) {
    io.err('Nothing to migrate: no removed attributes found.\n');
  }
  return 0;
}
