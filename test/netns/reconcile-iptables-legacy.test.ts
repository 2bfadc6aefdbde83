import { defineReconcileSuite } from './reconcile-suite';

defineReconcileSuite('iptables-legacy', 'riptleg');
