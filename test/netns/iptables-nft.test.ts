import { defineBackendSuite } from './suite';

defineBackendSuite('iptables-nft', 'ipn');
