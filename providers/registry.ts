/**
 * providerFor maps a backend name to its Provider. The fake (providers/fake) is constructed by
 * tests directly and is deliberately not reachable from here.
 */
import type { BackendName, Provider } from './types';
import { IptablesProvider } from './iptables';
import { NftablesProvider } from './nftables';

const PROVIDERS = new Map<BackendName, Provider>();

/** providerFor returns the (stateless, shared) Provider of `backend`. */
export function providerFor(backend: BackendName): Provider {
  let p = PROVIDERS.get(backend);
  if (p) return p;
  switch (backend) {
    case 'nftables':
      p = new NftablesProvider();
      break;
    case 'iptables-nft':
      p = new IptablesProvider('nft');
      break;
    case 'iptables-legacy':
      p = new IptablesProvider('legacy');
      break;
    default: {
      const never: never = backend;
      throw new Error(`unknown backend ${String(never)}`);
    }
  }
  PROVIDERS.set(backend, p);
  return p;
}
