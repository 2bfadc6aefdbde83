/**
 * Migration from Aporeto / Prisma Cloud Microsegmentation (DESIGN §1, "Removed attributes"):
 * import files become microseg HCL, and microseg HCL still using the removed external_network
 * `protocols`/`ports` is rewritten to `service_ports`. Pure functions of (file name, text): the
 * CLI reads, diffs and writes.
 */
export { migrateAporeto, sanitizeLabel, type MigrateOptions, type MigrateResult } from './migrate';
export { rewriteLegacyHcl, type RewriteResult } from './rewrite';
export { MigrateCodes } from './codes';
