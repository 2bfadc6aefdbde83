/**
 * The one door to @peculiar/x509: it needs the reflect-metadata polyfill loaded before it (its
 * dependency injection container refuses to start without it) and a crypto provider; both are
 * set here so no importer can get the order wrong.
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { webcrypto } from 'crypto';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export { x509 };
export type CryptoKey = webcrypto.CryptoKey;
export type CryptoKeyPair = webcrypto.CryptoKeyPair;
