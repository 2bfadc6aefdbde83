/**
 * formatView chooses a command's View from `--format` (human, json, sarif), with `--json` kept
 * as the spelling of `--format json` it always was; `--format` wins when both are given.
 */
import type { Io } from '../io';
import { sarifView } from './sarif';
import { viewFor, type View } from './view';

export type OutputFormat = 'human' | 'json' | 'sarif';

export function formatView(io: Io, opts: { json?: boolean; format?: string }): View {
  const format = opts.format ?? (opts.json ? 'json' : 'human');
  return format === 'sarif' ? sarifView(io) : viewFor(io, format === 'json');
}
