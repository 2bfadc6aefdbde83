/** parseHcl picks the syntax by file name: `*.json` is HCL JSON syntax, anything else native. */
import { parseJsonSyntax } from './json';
import { type ParseResult, parseNative } from './parser';

/**
 * parseHcl parses one file into a syntax tree plus its syntax diagnostics. It never throws on bad
 * input, so editors and `validate` can show every error at once.
 */
export function parseHcl(fileName: string, text: string): ParseResult {
  return fileName.endsWith('.json') ? parseJsonSyntax(fileName, text) : parseNative(fileName, text);
}
