import { defineBackendSuite } from './suite';

defineBackendSuite('iptables-legacy', 'ipl');
