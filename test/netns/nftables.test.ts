import { defineBackendSuite } from './suite';

defineBackendSuite('nftables', 'nft');
