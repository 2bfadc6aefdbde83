/**
 * Network interface names as microseg accepts and matches them: one place for the rules that
 * `excluded_interfaces` (patterns), `expect`'s `interface`/`iif`/`oif` and `trace --iif/--oif`
 * (one concrete interface each) share, and for what a pattern matches.
 *
 * A pattern ending in `+` matches every interface whose name starts with what precedes it
 * (iptables' `-i veth+`; nftables spells it `iifname "veth*"`), including the bare prefix itself.
 */

/** A Linux interface name: 1–15 bytes (IFNAMSIZ 16 with its NUL), no `/`, space or `:` trouble. */
const NAME = /^[A-Za-z0-9_.:@-]{1,15}$/;

/** interfaceNameProblem says why `name` is not one concrete interface name, or undefined. */
export function interfaceNameProblem(name: string): string | undefined {
  if (!NAME.test(name) || name === '.' || name === '..') {
    return 'an interface name has 1 to 15 letters, digits or "_.:@-", for example "eth0" or "docker0"';
  }
  return undefined;
}

/** interfacePatternProblem is interfaceNameProblem for a pattern, which may end in `+`. */
export function interfacePatternProblem(pattern: string): string | undefined {
  const base = pattern.endsWith('+') ? pattern.slice(0, -1) : pattern;
  // The kernel's 15 bytes hold the whole pattern: iptables stores `veth+` as written, and nft's
  // `veth*` is as long.
  if (interfaceNameProblem(base) !== undefined || pattern.length > 15) {
    return 'an interface name has 1 to 15 letters, digits or "_.:@-", optionally ending in "+" to match every interface with that prefix, for example "docker0" or "veth+"';
  }
  return undefined;
}

/** interfaceMatches says whether interface `name` matches `pattern` (exact, or prefix for `veth+`). */
export function interfaceMatches(pattern: string, name: string): boolean {
  return pattern.endsWith('+') ? name.startsWith(pattern.slice(0, -1)) : name === pattern;
}

/**
 * interfaceOfPattern is one concrete interface name that `pattern` matches: the pattern itself,
 * or its prefix for a wildcard (iptables and nftables both match the bare prefix).
 */
export function interfaceOfPattern(pattern: string): string {
  return pattern.endsWith('+') ? pattern.slice(0, -1) : pattern;
}
