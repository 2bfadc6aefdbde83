/**
 * providerFor maps a backend name to its Provider. The fake (providers/fake) is constructed by
 * tests directly and is deliberately not reachable from here.
 */
import type { BackendName, Provider } from './types';
import { IptablesProvider } from './iptables';
import { NftablesProvider } from './nftables';

export type { BackendName, Capabilities, LiveChain, LiveHook, LiveRuleset, Provider, ScriptStep } from './types';
export { NftablesProvider } from './nftables';
export { IptablesProvider, detectBackend, detectBackendDetailed } from './iptables';
export { ProviderError, runSteps } from './common';

export function providerFor(backend: BackendName): Provider {
  switch (backend) {
    case 'nftables':
      return new NftablesProvider();
    case 'iptables-nft':
      return new IptablesProvider('nft');
    case 'iptables-legacy':
      return new IptablesProvider('legacy');
    default: {
      const never: never = backend;
      throw new Error(`unknown backend ${String(never)}`);
    }
  }
}
