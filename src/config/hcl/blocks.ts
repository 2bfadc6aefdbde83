/**
 * The top-level block types of a microseg HCL configuration, in one table, and what is said about
 * any other: a Terraform, Nomad or Packer file dropped into the directory gets one clear
 * "not a microseg resource type" per block (naming the tool it belongs to), instead of label-count
 * errors about blocks microseg never meant to read.
 *
 * To add a top-level block (a settings block, say), add its row to TOP_LEVEL_BLOCKS and handle
 * the type in evaluateHcl (src/config/hcl/config.ts).
 */
import { didYouMean, type Diagnostic } from '../../diagnostics';
import { CODES } from '../../model/codes';
import { RESOURCE_TYPES } from '../types';
import type { Block } from './ast';

/** TOP_LEVEL_BLOCKS maps each block type microseg reads at the top of a file to how it is written. */
export const TOP_LEVEL_BLOCKS: ReadonlyMap<string, string> = new Map<string, string>([
  ...RESOURCE_TYPES.map((t): [string, string] => [t, `${t} "NAME" { ... }`]),
  ['variable', 'variable "NAME" { ... }'],
  ['locals', 'locals { NAME = VALUE }'],
  ['output', 'output "NAME" { value = ... }'],
  ['microseg', 'microseg { backend "pg" { ... } }'],
]);

/**
 * FOREIGN_BLOCKS are block types of other HashiCorp-style tools, found in directories of *.hcl
 * files (Terraform's own files are *.tf, but modules, Terragrunt and Packer use *.hcl), so the
 * message can say where the file belongs.
 */
const FOREIGN_BLOCKS: ReadonlyMap<string, string> = new Map([
  ...['resource', 'data', 'provider', 'terraform', 'module', 'moved', 'import', 'removed', 'check', 'ephemeral'].map((t): [string, string] => [t, 'Terraform']),
  ['job', 'Nomad'],
  ...['source', 'build', 'packer', 'hcp_packer_registry'].map((t): [string, string] => [t, 'Packer']),
  ...['include', 'dependency', 'dependencies', 'remote_state', 'generate'].map((t): [string, string] => [t, 'Terragrunt']),
]);

/**
 * unknownBlock is the diagnostic for a top-level block of a type microseg does not read: at the
 * block, naming the tool it looks like it belongs to, with a "did you mean" for typos of microseg
 * types, and for `resource "network_policy" "x"` (a microseg type written Terraform-style) the
 * spelling microseg expects.
 */
export function unknownBlock(blk: Block): Diagnostic {
  const types = [...TOP_LEVEL_BLOCKS.keys()];
  const tool = FOREIGN_BLOCKS.get(blk.type);
  const header = [blk.type, ...blk.labels.map((l) => JSON.stringify(l.value))].join(' ');
  const hints: string[] = [];
  const asType = blk.labels[0]?.value.replace(/^microseg_/, '');
  if ((blk.type === 'resource' || blk.type === 'data') && asType !== undefined && (RESOURCE_TYPES as readonly string[]).includes(asType)) {
    hints.push(`microseg resources are blocks of their own: write ${asType} ${JSON.stringify(blk.labels[1]?.value ?? 'NAME')} { ... }.`);
  } else if (tool) {
    hints.push(
      `${header} { ... } is a ${tool} block. microseg reads every *.hcl and *.hcl.json file of the directory, so keep ${tool} files out of it (or microseg's in a directory of their own).`,
    );
  } else {
    const guess = didYouMean(blk.type, types);
    if (guess) hints.push(`Did you mean ${JSON.stringify(guess)}? It is written ${TOP_LEVEL_BLOCKS.get(guess)}.`);
  }
  hints.push(`microseg's blocks are: ${types.join(', ')}.`);
  return {
    severity: 'error',
    code: CODES.unknownResourceType,
    summary: `${JSON.stringify(blk.type)} is not a microseg resource type`,
    detail: hints.join('\n'),
    file: blk.pos.file,
    line: blk.pos.line,
    column: blk.pos.column,
  };
}
