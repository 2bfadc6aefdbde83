import { defineImportSuite } from './import-suite';

defineImportSuite('iptables-nft', 'impi');
