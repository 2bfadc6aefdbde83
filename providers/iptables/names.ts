/**
 * Names microseg owns in iptables and ipset (DESIGN §5). Ownership is recognised by name shape
 * alone, so a memory-less run (no state file, `microseg cleanup`) can find every owned object:
 *
 * - chains `MSEG-<IR name>`: IR names are ≤ 23 chars, so ≤ 28, under iptables' 28-char
 *   chain-name limit (XT_EXTENSION_MAXNAMELEN 29 incl. NUL);
 * - ipsets `mseg-<IR name>` (≤ 28, under IPSET_MAXNAMELEN 32 incl. NUL);
 * - the temporary set used to refill a set atomically, `mseg-<IR name>.t` (≤ 30). `.` never
 *   occurs in an IR name, so a temp set can never collide with a real one; a temp set left behind
 *   by an interrupted restore reads back as set `<name>.t`, which plan shows as an orphan and
 *   the next apply or cleanup destroys.
 */
export const CHAIN_PREFIX = 'MSEG-';
export const SET_PREFIX = 'mseg-';
export const TEMP_SUFFIX = '.t';

/** HOOK_COMMENT marks the one jump microseg inserts first in each builtin chain it hooks. */
export const HOOK_COMMENT = 'microseg:hook';

/** BUILTIN maps an IR hook to the builtin chain of table filter it is attached to. */
export const BUILTIN = { input: 'INPUT', output: 'OUTPUT', forward: 'FORWARD' } as const;

export function chainName(ir: string): string {
  return CHAIN_PREFIX + ir;
}

export function setName(ir: string): string {
  return SET_PREFIX + ir;
}

export function tempSetName(ir: string): string {
  return SET_PREFIX + ir + TEMP_SUFFIX;
}
