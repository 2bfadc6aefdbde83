/**
 * The microseg command line: commander wiring only. Each command loads, validates or compiles via
 * core modules that return data, and a view renders it. Exit codes (also in README and --help):
 * 0 success / no changes, 1 error, 2 changes or drift present (plan --detailed-exitcode, drift).
 */
import { Command, CommanderError, Option } from 'commander';
import { MICROSEG_VERSION } from '../version';
import { Io, processIo } from './io';
import { inspectCommand } from './commands/inspect';
import { migrateCommand } from './commands/migrate';
import { rulesCommand } from './commands/rules';
import { testCommand } from './commands/test';
import { traceCommand } from './commands/trace';
import { validateCommand } from './commands/validate';

const EXIT_CODES_HELP = `
Exit codes:
  0  success, or no changes
  1  error (invalid configuration, unreachable host, failed apply)
  2  changes or drift present (plan --detailed-exitcode, drift)
`;

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function addVarOptions(cmd: Command): Command {
  return cmd
    .option('--var <name=value>', 'set an input variable (repeatable)', collect)
    .option('--var-file <file>', 'read input variables from a file (repeatable)', collect);
}

/** buildProgram wires every command; `setCode` receives each command's exit code. */
export function buildProgram(io: Io, setCode: (code: number) => void): Command {
  const program = new Command();
  program
    .name('microseg')
    .description('Identity-based microsegmentation as code: tag-based policies compiled to iptables/ipset or nftables.')
    .version(MICROSEG_VERSION)
    .addHelpText('after', EXIT_CODES_HELP)
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) })
    .exitOverride()
    .showSuggestionAfterError(true);

  addVarOptions(
    program
      .command('validate')
      .description('check a configuration; exit 0 when valid (warnings allowed), 1 when invalid')
      .argument('[dir]', 'configuration directory (*.hcl or main.ts)', '.')
      .option('--json', 'print {"valid", "diagnostics"} as JSON'),
  ).action(async (dir: string, opts) => setCode(await validateCommand(io, dir, opts)));

  addVarOptions(
    program
      .command('inspect')
      .description('print the normalised model (every resource after evaluation, implicit identity tags included)')
      .argument('[dir]', 'configuration directory', '.')
      .option('--json', 'print the canonical JSON document'),
  ).action(async (dir: string, opts) => setCode(await inspectCommand(io, dir, opts)));

  program
    .command('migrate')
    .description(
      'convert Aporeto import files (YAML/JSON) to microseg HCL on stdout, and rewrite HCL using the removed protocols/ports attributes to service_ports (a diff on stdout)',
    )
    .argument('<files...>', 'Aporeto import files and/or microseg *.hcl files')
    .option('--write', 'write the result: HCL files in place, import files to FILE.hcl beside them')
    .action(async (files: string[], opts) => setCode(await migrateCommand(io, files, opts)));

  addVarOptions(
    program
      .command('rules')
      .description('print the exact scripts microseg would feed one enforcer host (no host access)')
      .argument('[dir]', 'configuration directory', '.')
      .requiredOption('--enforcer <name>', 'the enforcer whose rules to print')
      .addOption(new Option('--backend <backend>', 'dataplane to render for').choices(['nftables', 'iptables-nft', 'iptables-legacy'])),
  ).action(async (dir: string, opts) => setCode(await rulesCommand(io, dir, opts)));

  addVarOptions(
    program
      .command('trace')
      .description('show what the compiled rules do with one new connection, and which policy and rule decide (no host access)')
      .argument('[dir]', 'configuration directory', '.')
      .requiredOption('--from <endpoint>', 'processing unit or external network name, or an IP address')
      .requiredOption('--to <endpoint>', 'processing unit or external network name, or an IP address')
      .requiredOption('--port <port>', 'one connection: tcp/5432, udp/53, icmp/8/0, icmp6/128/0')
      .option('--json', 'print the trace as JSON'),
  ).action(async (dir: string, opts) => setCode(await traceCommand(io, dir, opts)));

  addVarOptions(
    program
      .command('test')
      .description('check every expect block against the compiled rules; exit 0 when all pass, 1 when any fails')
      .argument('[dir]', 'configuration directory', '.')
      .option('--json', 'print the results as JSON'),
  ).action(async (dir: string, opts) => setCode(await testCommand(io, dir, opts)));

  return program;
}

/** main runs the CLI and resolves to the process exit code. */
export async function main(argv: string[], io: Io = processIo): Promise<number> {
  let code = 0;
  const program = buildProgram(io, (c) => {
    code = c;
  });
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version end with exitCode 0; usage errors are exit 1.
      return e.exitCode === 0 ? 0 : 1;
    }
    throw e;
  }
  return code;
}
