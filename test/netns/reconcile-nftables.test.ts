import { defineReconcileSuite } from './reconcile-suite';

defineReconcileSuite('nftables', 'rnft');
