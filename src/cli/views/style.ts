/**
 * Terminal styling for the reconciler views: ANSI colours only when stdout is a terminal, so
 * CI logs and pipes get plain text. Data never carries colour; views add it at the edge.
 */
import type { Io } from '../io';

export interface Style {
  green(s: string): string;
  yellow(s: string): string;
  red(s: string): string;
  bold(s: string): string;
  dim(s: string): string;
}

const wrap = (code: string) => (s: string) => `\x1b[${code}m${s}\x1b[0m`;

const id = (s: string) => s;

/** PLAIN styles nothing: for documents that are not terminals (Markdown, files). */
export const PLAIN: Style = { green: id, yellow: id, red: id, bold: id, dim: id };

/** styleFor returns colouring functions for a TTY and identity functions otherwise (also when NO_COLOR is set). */
export function styleFor(io: Io): Style {
  if (!io.isTTY || process.env.NO_COLOR) return PLAIN;
  return { green: wrap('32'), yellow: wrap('33'), red: wrap('31'), bold: wrap('1'), dim: wrap('2') };
}

/** plural: `1 rule`, `2 rules`. */
export function plural(n: number, word: string, many = `${word}s`): string {
  return `${n} ${n === 1 ? word : many}`;
}

/** capList shows at most `max` items and says how many more there are. */
export function capList(items: readonly string[], max = 8): string[] {
  if (items.length <= max) return [...items];
  return [...items.slice(0, max), `… and ${items.length - max} more`];
}
