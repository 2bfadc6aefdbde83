/**
 * Diagnostic codes of `microseg migrate` (MSEG5xxx). Stable: documentation and users' scripts
 * refer to them. MSEG5001 (cannot read a file) belongs to the CLI.
 */
export const MigrateCodes = {
  /** The import file is not valid YAML/JSON. */
  syntax: 'MSEG5002',
  /** The document is not an `apoctl api import` file (no `data` mapping, wrong top-level keys). */
  notImportFile: 'MSEG5003',
  /** A kind under `data` that migrate does not convert. */
  unknownKind: 'MSEG5004',
  /** A Go template (`{{ ... }}`): the file must be rendered by apoctl first. */
  template: 'MSEG5005',
  /** An attribute migrate does not know how to map. */
  unknownAttribute: 'MSEG5006',
  /** A value of the wrong type or outside its enum. */
  invalidValue: 'MSEG5007',
  /** `protocols`/`ports` that have no faithful `service_ports` equivalent. */
  legacyPorts: 'MSEG5008',
  /** A known setting whose behaviour microseg cannot reproduce. */
  unsupported: 'MSEG5009',
  /** A missing or duplicate object name. */
  badName: 'MSEG5010',
  /** An external network entry that is a DNS name: microseg entries are addresses. */
  dnsEntry: 'MSEG5011',

  /** Warning: an attribute with no effect on enforcement was dropped. */
  dropped: 'MSEG5101',
  /** Warning: a name was changed to make a valid resource label. */
  renamed: 'MSEG5102',
  /** Warning: a setting was converted approximately; review the output. */
  review: 'MSEG5103',
  /** Warning: a kind that writes no firewall rule (recipes, automations, ...) was skipped. */
  skippedKind: 'MSEG5104',
  /** Warning: the top-level `identities` list disagrees with what `data` holds. */
  identities: 'MSEG5105',
  /** Warning: an object with no attribute set (a stray `-` in a YAML list) was skipped. */
  emptyObject: 'MSEG5106',

  /** rewriteLegacyHcl: `protocols`/`ports` written as an expression, not literal lists. */
  notLiteral: 'MSEG5201',
} as const;
