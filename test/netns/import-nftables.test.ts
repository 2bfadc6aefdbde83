import { defineImportSuite } from './import-suite';

defineImportSuite('nftables', 'impn');
