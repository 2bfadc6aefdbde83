import { defineReconcileSuite } from './reconcile-suite';

defineReconcileSuite('iptables-nft', 'riptnft');
