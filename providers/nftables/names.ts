/**
 * Names of microseg's objects in nftables. Everything lives in table `inet microseg`, which we own
 * whole (DESIGN §5), so names only need to be valid nft identifiers. They are not always: nft's
 * grammar refuses identifiers that are keywords (`set`, `accept`, `counter`, ...) or start with a
 * digit, and nft 1.0.6 does not accept quoted chain/set names (tested: `chain "set" {}` is a
 * syntax error). IR names are `[a-z0-9-]`, so every set and chain gets the prefix `mseg-`, which
 * always lexes as one plain string and matches the iptables/ipset prefixes for grep.
 */
export const NFT_FAMILY = 'inet';
export const NFT_TABLE = 'microseg';
export const NFT_PREFIX = 'mseg-';

/** nftName maps an IR set or chain name to its name inside table inet microseg. */
export function nftName(irName: string): string {
  return NFT_PREFIX + irName;
}

/**
 * irNameOf maps a name found in our table back to the IR. A name without our prefix was not
 * written by microseg (someone added it to our table by hand): it comes back as `nft:<name>`,
 * which is never an IR name, so plan reports it as an orphan instead of mistaking it for ours.
 */
export function irNameOf(nft: string): string {
  return nft.startsWith(NFT_PREFIX) ? nft.slice(NFT_PREFIX.length) : `nft:${nft}`;
}
