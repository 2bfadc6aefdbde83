/** The firewall dataplanes (nftables, iptables-nft, iptables-legacy), their Transactions and the Host seam. */
export type {
  BackendName,
  Capabilities,
  ChainDiff,
  ChangePlan,
  HookDiff,
  LiveChain,
  LiveHook,
  LiveRuleset,
  ObjectDiff,
  PartialLive,
  Provider,
  ReadScope,
  RuleDiff,
  ScriptStep,
  SetDiff,
} from './types';
export { TRANSACTION_VERSION, TxBuilder, countOps, describeOp, type Transaction, type TransactionKind, type TableName, type Op, type TxObject, type Verb } from './transaction';
export { providerFor } from './registry';
export { KernelFirewall, kernelConnector, kernelHost, type Connector, type Firewall, type FirewallHost, type SendOptions } from './firewall';
export { NftablesProvider } from './nftables';
export { IptablesProvider, detectBackend, detectBackendDetailed } from './iptables';
export { ProviderError } from './common';
