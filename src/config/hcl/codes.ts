/**
 * Stable diagnostic codes of the HCL front end. MSEG1xxx are syntax errors (found while reading a
 * file), MSEG2xxx are evaluation errors (found while computing values). Codes never change meaning,
 * so users and tests can match on them.
 */
export const Codes = {
  /** A character that cannot start any token. */
  invalidChar: 'MSEG1001',
  /** A quoted string without its closing quote on the same line. */
  unterminatedString: 'MSEG1002',
  /** A heredoc without its closing marker line. */
  unterminatedHeredoc: 'MSEG1003',
  /** A `/* ... *\/` comment without its end. */
  unterminatedComment: 'MSEG1004',
  /** A backslash escape HCL does not define. */
  invalidEscape: 'MSEG1005',
  /** Something other than an attribute or block where one was expected. */
  expectedItem: 'MSEG1010',
  /** An expression was expected. */
  missingExpression: 'MSEG1011',
  /** A specific token was expected (closing bracket, `=`, `:` ...). */
  expectedToken: 'MSEG1012',
  /** An attribute defined twice in one body. */
  duplicateAttribute: 'MSEG1013',
  /** Two items on one line without a newline between them. */
  missingNewline: 'MSEG1014',
  /** A block label that is not a literal string. */
  invalidLabel: 'MSEG1015',
  /** Template directive problems (`%{if}` without `%{endif}` ...). */
  invalidTemplate: 'MSEG1016',
  /** Expressions nested deeper than the parser allows. */
  tooDeep: 'MSEG1017',
  /** A block written on one line that HCL does not accept there (a nested block, two arguments, no closing brace). */
  singleLineBlock: 'MSEG1018',
  /** A `.hcl.json` file that is not valid JSON or not shaped like a configuration. */
  invalidJson: 'MSEG1020',

  /** Reference to a root name that does not exist (`foo.bar`). */
  unknownReference: 'MSEG2001',
  /** `var.x` for an undeclared variable. */
  unknownVariable: 'MSEG2002',
  /** `local.x` for an undeclared local. */
  unknownLocal: 'MSEG2003',
  /** `<type>.<label>` for an undeclared resource. */
  unknownResource: 'MSEG2004',
  /** References that form a cycle. */
  cycle: 'MSEG2005',
  /** Call of a function microseg does not provide. */
  unknownFunction: 'MSEG2006',
  /** Wrong number or type of function arguments, or a function failing on its input. */
  functionArgs: 'MSEG2007',
  /** An operand or value of the wrong type. */
  typeMismatch: 'MSEG2010',
  /** Division or modulo by zero. */
  divisionByZero: 'MSEG2011',
  /** Index out of range, missing map key, or an invalid index type. */
  invalidIndex: 'MSEG2012',
  /** `.name` on an object without that attribute. */
  unsupportedAttribute: 'MSEG2013',
  /** A required variable that got no value. */
  requiredVariable: 'MSEG2020',
  /** A variable value that does not match its type. */
  variableType: 'MSEG2021',
  /** A variable validation rule that failed. */
  variableValidation: 'MSEG2022',
  /** A malformed `type = ...` constraint. */
  invalidType: 'MSEG2023',
  /** A value given for a variable that is not declared. */
  undeclaredVariableValue: 'MSEG2024',
  /** Resource block label count is not one. */
  resourceLabels: 'MSEG2030',
  /** Two resources with the same address, or two variables/locals/outputs with one name. */
  duplicate: 'MSEG2031',
  /** `for_each` value that is not a map or a set/list of strings. */
  invalidForEach: 'MSEG2032',
  /** `each.*` outside a resource with `for_each`. */
  eachOutsideForEach: 'MSEG2033',
  /** `name` that is not a string. */
  invalidName: 'MSEG2034',
  /** Malformed `variable`, `locals` or `output` block. */
  invalidBlock: 'MSEG2036',
  /** Problems in `for` expressions (duplicate keys, non-collection input). */
  forExpression: 'MSEG2041',
  /** A configuration directory that could not be read. */
  readError: 'MSEG2090',
} as const;
