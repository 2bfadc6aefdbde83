/**
 * The microseg command line: commander wiring only. Each command loads, validates or compiles via
 * core modules that return data, and a view renders it. Exit codes (also in README and --help):
 * 0 success / no changes, 1 error, 2 changes or drift present (plan --detailed-exitcode, drift).
 */
import { Command, CommanderError, Option } from 'commander';
import { PACKAGE_VERSION } from '../version';
import { Io, processIo, type CliDeps } from './io';
import { inspectCommand } from './commands/inspect';
import { migrateCommand } from './commands/migrate';
import { rulesCommand } from './commands/rules';
import { sandboxDownCommand, sandboxStatusCommand, sandboxUpCommand } from './commands/sandbox';
import { testCommand } from './commands/test';
import { traceCommand } from './commands/trace';
import { validateCommand } from './commands/validate';
import { planCommand } from './commands/plan';
import { applyCommand } from './commands/apply';
import { driftCommand } from './commands/drift';
import { statsCommand } from './commands/stats';
import { collectorCommand, flowsCommand } from './commands/flows';
import { suggestCommand } from './commands/suggest';
import { destroyCommand } from './commands/destroy';
import { cleanupCommand } from './commands/cleanup';
import { stateListCommand, statePullCommand, statePushCommand, stateRmCommand, stateShowCommand } from './commands/state';
import { forceUnlockCommand } from './commands/force-unlock';
import { showCommand } from './commands/show';
import { serverCommand } from './commands/server';
import { agentCommand, agentStatusCommand } from './commands/agent';
import { caBundleCommand, caRotateCommand, caStatusCommand, tokenCreateCommand, tokenListCommand, tokenRevokeCommand } from './commands/control';
import { importCommand } from './commands/import';
import { initCommand } from './commands/init';
import { workspaceDeleteCommand, workspaceListCommand, workspaceNewCommand, workspaceSelectCommand, workspaceShowCommand } from './commands/workspace';

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
export function buildProgram(io: Io, setCode: (code: number) => void, deps: CliDeps = {}): Command {
  const program = new Command();
  program
    .name('microseg')
    .description('Identity-based microsegmentation as code: tag-based policies compiled to iptables/ipset or nftables.')
    .version(PACKAGE_VERSION)
    .addHelpText('after', EXIT_CODES_HELP)
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) })
    .exitOverride()
    .showSuggestionAfterError(true);

  addVarOptions(
    program
      .command('validate')
      .description('check a configuration; exit 0 when valid (warnings allowed), 1 when invalid')
      .argument('[dir]', 'configuration directory (*.hcl or main.ts)', '.')
      .option('--json', 'print {"valid", "diagnostics"} as JSON (same as --format json)')
      .addOption(new Option('--format <format>', 'human, json, or sarif (SARIF 2.1.0 for code scanning)').choices(['human', 'json', 'sarif'])),
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
      .option('--interface <name>', 'the interface the connection crosses on both hosts (matters only where a profile has excluded_interfaces)')
      .option('--oif <name>', 'the interface it leaves the source host by')
      .option('--iif <name>', 'the interface it reaches the destination host by')
      .option('--json', 'print the trace as JSON'),
  ).action(async (dir: string, opts) => setCode(await traceCommand(io, dir, opts)));

  addVarOptions(
    program
      .command('test')
      .description('check every expect block against the compiled rules; exit 0 when all pass, 1 when any fails')
      .argument('[dir]', 'configuration directory', '.')
      .option('--json', 'print the results as JSON (same as --format json)')
      .addOption(new Option('--format <format>', 'human, json, or sarif (failing expectations and diagnostics as SARIF 2.1.0)').choices(['human', 'json', 'sarif']))
      .option('--live', 'also send every expectation as real packets through the sandbox (microseg sandbox up) and report any disagreement with the offline trace as a BUG line; needs root'),
  ).action(async (dir: string, opts) => setCode(await testCommand(io, dir, opts)));

  const sandbox = program
    .command('sandbox')
    .description('build or remove a throwaway network of namespaces for the netns enforcers, with listeners on every port the expectations name (needs root)');
  addVarOptions(
    sandbox
      .command('up')
      .description('create a namespace per netns enforcer on a bridge (own namespace), PU addresses, external stand-ins, listeners; recorded in DIR/.microseg/sandbox.json')
      .argument('[dir]', 'configuration directory', '.')
      .option('--json', 'print the sandbox record as JSON'),
  ).action(async (dir: string, opts) => setCode(await sandboxUpCommand(io, dir, opts)));
  sandbox
    .command('status')
    .description('read-only: is the sandbox for DIR up, with every namespace and listener it recorded? exit 0 up, 2 absent or unhealthy, 1 error')
    .argument('[dir]', 'configuration directory', '.')
    .option('--json', 'print status, problems and the record as JSON')
    .action(async (dir: string, opts) => setCode(await sandboxStatusCommand(io, dir, opts)));
  addVarOptions(
    sandbox
      .command('down')
      .description('remove exactly what sandbox up created (also after a crash or with the record lost); idempotent')
      .argument('[dir]', 'configuration directory', '.')
      .option('--json', 'print what was removed as JSON'),
  ).action(async (dir: string, opts) => setCode(await sandboxDownCommand(io, dir, opts)));

  // ---- reconciler: plan, apply, drift, destroy, cleanup, state (src/apply) ----
  const reconcileOptions = (cmd: Command): Command =>
    addVarOptions(cmd)
      .option('--parallelism <n>', 'hosts read or changed at once', '10')
      .option('--lock-timeout <duration>', 'wait this long for the state lock (0s: fail at once, naming the holder)', '0s')
      .option('--target <enforcer>', 'limit to this enforcer (NAME or enforcer.NAME; repeatable)', collect);

  reconcileOptions(
    program
      .command('plan')
      .description('read every enforcer host and show what apply would change: resources, rules, sets, members, hooks, drift, orphans')
      .argument('[dir]', 'configuration directory (state in DIR/.microseg)', '.')
      .option('-o, --out <file>', 'save the plan; `apply FILE` applies exactly it (also accepted as -out FILE)')
      .option('--detailed-exitcode', 'exit 2 when there are changes (0 none, 1 error)')
      .option('--json', 'print the versioned plan document')
      .option('--refresh-only', 'show only drift and orphans (live vs what microseg last applied)')
      .option('--explain', 'also list the connections whose verdict this change flips (vs the last apply)')
      .option('--no-lock', 'do not take the state lock'),
  ).action(async (dir: string, opts) => setCode(await planCommand(io, dir, opts, deps)));

  reconcileOptions(
    program
      .command('apply')
      .description('make the hosts match the configuration, or apply a saved plan file exactly; exit 0 done, 1 error')
      .argument('[dir|planfile]', 'configuration directory, or a plan file from `plan -out`', '.')
      .option('--auto-approve', 'do not ask for approval (required when there is no terminal)')
      .option('--full-read-back', 'after each host\'s transaction read the host back whole, not only what the transaction touched')
      .option('--json', 'print one versioned JSON document (hosts, outcomes, diagnostics) instead of the plan and progress; needs --auto-approve or a plan file')
      .option('--dir <dir>', 'project directory holding .microseg when applying a plan file (default: beside the file, else .)')
      .option('--wait-timeout <duration>', 'how long to wait for agent enforcers (connection type "agent") to report the published ruleset applied; exit 1 naming those that did not', '5m')
      .option('--token-dir <dir>', 'where the secrets of new enforcer_token resources are written, one mode-0600 file each (default DIR/.microseg/tokens)'),
  ).action(async (target: string, opts) => setCode(await applyCommand(io, target, opts, undefined, deps)));

  reconcileOptions(
    program
      .command('drift')
      .description('read-only: compare every host with what microseg last applied; exit 0 none, 2 drift, 1 error')
      .argument('[dir]', 'configuration directory', '.')
      .option('--json', 'print per host: missing, unexpected, changed')
      .option('--no-lock', 'do not take the state lock'),
  ).action(async (dir: string, opts) => setCode(await driftCommand(io, dir, opts, deps)));

  addVarOptions(
    program
      .command('stats')
      .description('read-only: per host and policy, the connections allowed and rejected (from rule counters), the namespace defaults\' counts and dead policies; exit 0, 1 error')
      .argument('[dir]', 'configuration directory', '.')
      .option('--json', 'print the versioned stats document')
      .option('--since-apply', 'count from each host\'s last apply instead of from when its rules were created')
      .option('--parallelism <n>', 'hosts read at once', '10')
      .option('--target <enforcer>', 'only this enforcer (NAME or enforcer.NAME; repeatable)', collect),
  ).action(async (dir: string, opts) => setCode(await statsCommand(io, dir, opts, deps)));

  addVarOptions(
    program
      .command('flows')
      .description('the connections the log rules recorded (logs_enabled policies and namespaces, observation and audit would-be verdicts): time src(identity) → dst(identity) port verdict policy; exit 0, 1 error')
      .argument('[dir]', 'configuration directory', '.')
      .option('--enforcer <name>', 'only this enforcer (repeatable)', collect)
      .option('--follow', 'keep printing new records until interrupted')
      .option('--json', 'print the flows document (with --follow: one record per line)'),
  ).action(async (dir: string, opts) => setCode(await flowsCommand(io, dir, opts, deps)));

  addVarOptions(
    program
      .command('suggest')
      .description('turn observed flows into tag-based allow policies and one expect block per flow, written as a new HCL file beside the configuration (verified first); exit 0 written, 1 error')
      .argument('[dir]', 'configuration directory', '.')
      .option('--from-flows <file>', 'the saved output of `microseg flows --json` (or --follow --json lines)')
      .option('--enforcer <name>', 'read this enforcer\'s collector live instead (repeatable)', collect)
      .option('--since <duration>', 'only records this recent (30m, 2h, 90s)')
      .option('--out <file>', 'the file to write (default suggested.mseg.hcl in the configuration directory)')
      .option('--force', 'replace the file if it exists')
      .option('--include-rejected', 'also suggest allows for flows the namespace default rejected when observed')
      .option('--json', 'print the suggestion as JSON'),
  ).action(async (dir: string, opts) => setCode(await suggestCommand(io, dir, opts, deps)));

  const collector = program.command('collector').description('the per-host NFLOG collector (ulogd2) that flows reads');
  for (const action of ['start', 'stop', 'status'] as const) {
    addVarOptions(
      collector
        .command(action)
        .description(`${action} the collector on every enforcer (or --enforcer), inside its network namespace or over its connection`)
        .argument('[dir]', 'configuration directory', '.')
        .option('--enforcer <name>', 'only this enforcer (repeatable)', collect)
        .option('--json', 'print JSON'),
    ).action(async (dir: string, opts) => setCode(await collectorCommand(io, action, dir, opts)));
  }

  reconcileOptions(
    program
      .command('destroy')
      .description('decommission every enforcer: remove all owned hooks, chains, rules and sets, verify none is left')
      .argument('[dir]', 'configuration directory', '.')
      .option('--auto-approve', 'do not ask for approval')
      .option('--json', 'print one versioned JSON document (hosts, outcomes, diagnostics); needs --auto-approve')
      .option('--wait-timeout <duration>', 'how long to wait for agent enforcers to report their decommission clean', '5m'),
  ).action(async (dir: string, opts) => setCode(await destroyCommand(io, dir, opts, undefined, deps)));

  addVarOptions(
    program
      .command('import')
      .description('adopt an enforcer whose host already holds microseg objects into this state (reads the host, changes nothing on it)')
      .argument('<enforcer>', 'an enforcer of the configuration (NAME or enforcer.NAME)')
      .argument('[dir]', 'configuration directory', '.')
      .option('--parallelism <n>', 'hosts read at once', '10')
      .option('--lock-timeout <duration>', 'wait this long for the state lock', '0s')
      .option('--json', 'print what was recorded as JSON'),
  ).action(async (enforcer: string, dir: string, opts) => setCode(await importCommand(io, enforcer, dir, opts, deps)));

  addVarOptions(
    program
      .command('cleanup')
      .description('break-glass: remove every microseg object from one host, with or without state, and prove none is left')
      .option('--enforcer <name>', 'an enforcer of the configuration (or state) in --dir')
      .option('--netns <name>', 'a network namespace on this machine')
      .option('--local', 'this machine')
      .option('--dir <dir>', 'configuration directory for --enforcer', '.')
      .option('--json', 'print the report as JSON'),
  ).action(async (opts) => setCode(await cleanupCommand(io, opts, deps)));

  const stateCmd = program.command('state').description('inspect, edit or move the state (in the configured backend: DIR/.microseg/state.json by default)');
  stateCmd
    .command('list')
    .description('list resource and host records')
    .option('--dir <dir>', 'project directory', '.')
    .action(async (opts) => setCode(await stateListCommand(io, opts)));
  stateCmd
    .command('show')
    .description('show one record: a resource address or host.<enforcer>')
    .argument('<address>')
    .option('--dir <dir>', 'project directory', '.')
    .action(async (address: string, opts) => setCode(await stateShowCommand(io, address, opts)));
  stateCmd
    .command('rm')
    .description('forget a record (the host is not touched)')
    .argument('<address>')
    .option('--dir <dir>', 'project directory', '.')
    .option('--lock-timeout <duration>', 'wait this long for the state lock', '0s')
    .action(async (address: string, opts) => setCode(await stateRmCommand(io, address, opts)));
  stateCmd
    .command('pull')
    .description('print the stored state (any backend) as a state-file JSON document')
    .option('--dir <dir>', 'project directory', '.')
    .action(async (opts) => setCode(await statePullCommand(io, opts)));
  stateCmd
    .command('push')
    .description('replace the stored state with FILE (refuses another lineage or a lower serial unless -force)')
    .argument('<file>')
    .option('--dir <dir>', 'project directory', '.')
    .option('-f, --force', 'push even another lineage or a lower serial (also -force)')
    .option('--lock-timeout <duration>', 'wait this long for the state lock', '0s')
    .action(async (file: string, opts) => setCode(await statePushCommand(io, file, opts)));

  program
    .command('force-unlock')
    .description('remove the state lock with this ID (shown by the "state is locked" message)')
    .argument('<id>')
    .argument('[dir]', 'project directory', '.')
    .action(async (id: string, dir: string) => setCode(await forceUnlockCommand(io, id, dir)));

  program
    .command('init')
    .description('prepare the configured state backend (pg: create the schema, run migrations); -migrate-state moves local state into it')
    .argument('[dir]', 'configuration directory', '.')
    .option('--migrate-state', 'copy DIR/.microseg/state.json into the configured backend (lineage and serial kept; the file is kept as state.json.migrated); also -migrate-state')
    .option('--lock-timeout <duration>', 'wait this long for the state locks', '0s')
    .action(async (dir: string, opts) => setCode(await initCommand(io, dir, opts)));

  const ws = program.command('workspace').description('several states in one backend (pg): list, show, new, select, delete; MICROSEG_WORKSPACE overrides the selection');
  ws.command('list').description('list workspaces; * marks the selected one').option('--dir <dir>', 'project directory', '.').action(async (opts) => setCode(await workspaceListCommand(io, opts)));
  ws.command('show').description('print the selected workspace').option('--dir <dir>', 'project directory', '.').action(async (opts) => setCode(await workspaceShowCommand(io, opts)));
  ws.command('new').description('create a workspace and select it').argument('<name>').option('--dir <dir>', 'project directory', '.').action(async (name: string, opts) => setCode(await workspaceNewCommand(io, name, opts)));
  ws.command('select').description('select a workspace (written to DIR/.microseg/workspace)').argument('<name>').option('--dir <dir>', 'project directory', '.').action(async (name: string, opts) => setCode(await workspaceSelectCommand(io, name, opts)));
  ws.command('delete')
    .description('delete a workspace with its state and journal (refuses default, the selected one, and one whose state still records hosts unless -force)')
    .argument('<name>')
    .option('--dir <dir>', 'project directory', '.')
    .option('-f, --force', 'delete even though its state still records hosts (their rules stay on them)')
    .action(async (name: string, opts) => setCode(await workspaceDeleteCommand(io, name, opts)));

  program
    .command('show')
    .description('show a saved plan, or without one the current state')
    .argument('[planfile]')
    .option('--json', 'print the JSON document (same as --format json)')
    .addOption(new Option('--format <format>', 'human, json, or markdown (a saved plan as a pull request comment)').choices(['human', 'json', 'markdown']))
    .option('--dir <dir>', 'project directory for the state', '.')
    .action(async (planFile: string | undefined, opts) => setCode(await showCommand(io, planFile, opts)));

  const controlOpts = (c: Command) =>
    c
      .option('--workspace <name>', 'workspace (default: MICROSEG_WORKSPACE or "default")')
      .option('--schema <name>', 'PostgreSQL schema (default: MICROSEG_PG_SCHEMA or "microseg")')
      .option('--json', 'print JSON');
  const tokenCmd = program.command('token').description('agent registration tokens (PostgreSQL from PG_CONN_STR)');
  controlOpts(
    tokenCmd
      .command('create')
      .description('create a registration token and print it once on stdout (only its hash is kept)')
      .argument('<name>', 'a name for the token (several tokens may share one)')
      .option('--networks <cidrs>', 'comma-separated CIDRs registrations must come from (default: anywhere)')
      .option('--quota <n>', 'how many enforcers may register with it (0: no limit)', '0')
      .option('--validity <duration>', 'how long it can be used, e.g. 1h, 30m, 7d', '24h')
      .option('--roles <roles>', 'comma-separated roles', 'enforcer'),
  ).action(async (name: string, opts) => setCode(await tokenCreateCommand(io, name, opts)));
  controlOpts(tokenCmd.command('list').description('list tokens (never their secrets)')).action(async (opts) => setCode(await tokenListCommand(io, opts)));
  controlOpts(tokenCmd.command('revoke').description('revoke tokens by name or id').argument('<name-or-id>')).action(async (n: string, opts) =>
    setCode(await tokenRevokeCommand(io, n, opts)),
  );
  const caCmd = program.command('ca').description("the control plane's certificate authority (key sealed with MICROSEG_CA_KEY)");
  controlOpts(caCmd.command('status').description('CAs, their roles, and how many agents still hold certificates of a CA that no longer signs')).action(async (opts) =>
    setCode(await caStatusCommand(io, opts)),
  );
  controlOpts(
    caCmd
      .command('rotate')
      .description('stage a new CA beside the signing one (agents trust it, then renew, then the old one retires); exit 2 with --advance while waiting for agents')
      .option('--advance', "take the rotation's next step if every agent is ready")
      .option('--force', 'with --advance: take it even if some agents are not ready'),
  ).action(async (opts) => setCode(await caRotateCommand(io, opts)));
  program
    .command('server')
    .description('the agent-mode control plane: HTTPS with mutual TLS, state in PostgreSQL (PG_CONN_STR), CA key sealed with MICROSEG_CA_KEY; runs until SIGTERM')
    .requiredOption('--listen <addr:port>', 'address and port to listen on')
    .option('--san <names>', 'extra comma-separated DNS names or addresses for the server certificate')
    .option('--workspace <name>', 'workspace (default: MICROSEG_WORKSPACE or "default")')
    .option('--schema <name>', 'PostgreSQL schema (default: MICROSEG_PG_SCHEMA or "microseg")')
    .option('--pg-pool <n>', 'database connections of this replica, its LISTEN included (default: MICROSEG_PG_POOL or 16)')
    .action(async (opts) => setCode(await serverCommand(io, opts)));
  const agentCmd = program
    .command('agent')
    .description('the enforcer side of agent mode (run as root on the host): register once, pull the published ruleset, apply it as `apply` does, report; keeps the last good rules when the server is gone')
    .option('--server <url>', 'the control plane, https://HOST:PORT')
    .option('--ca-file <file>', 'trust bundle to start from (`microseg ca bundle`)')
    .option('--token-file <file>', 'registration token (read only on first start; never logged)')
    .option('--cert-dir <dir>', 'key and certificate directory (mode 0700; default STATE_DIR/identity)')
    .option('--enforcer <name>', 'the enforcer name this host registers as (default: the host name)')
    .option('--once', 'converge once and exit: 0 converged, 1 failed')
    .option('--state-dir <dir>', 'local record, status and apply state (default /var/lib/microseg-agent)')
    .option('--netns <name>', 'enforce inside this network namespace instead of the host stack')
    .option('--wait <seconds>', 'long-poll wait (1-60)', '30')
    .option('--timeout <seconds>', 'timeout of each request to the server', '15')
    .option('--drift-interval <seconds>', 'how often the host is re-read for drift between documents', '60')
    .option('--trust-interval <seconds>', 'how often the trust bundle is fetched (a CA rotation waits for every agent to trust the new CA, then to renew from it)', '60')
    .option('--backoff-cap <seconds>', 'longest wait between retries while the server is unreachable', '60')
    .action(async (opts) => setCode(await agentCommand(io, opts, deps)));
  agentCmd
    .command('status')
    .description("the agent's health from its status file, for monitoring: exit 0 healthy, 1 error, 2 not converged")
    .option('--state-dir <dir>', "the agent's --state-dir (default /var/lib/microseg-agent)")
    .option('--unreachable-grace <seconds>', 'how long the server may be unreachable before that is an error', '300')
    .option('--json', 'print JSON')
    // commander gives `agent status --state-dir X` to the agent's own --state-dir: take either.
    .action(async (opts, cmd: Command) => setCode(await agentStatusCommand(io, { ...opts, stateDir: opts.stateDir ?? (cmd.parent?.opts().stateDir as string | undefined) })));
  controlOpts(caCmd.command('bundle').description('print the trust bundle (PEM) agents use as --ca-file')).action(async (opts) => setCode(await caBundleCommand(io, opts)));

  return program;
}

/** main runs the CLI and resolves to the process exit code. */
export async function main(argv: string[], io: Io = processIo, deps: CliDeps = {}): Promise<number> {
  let code = 0;
  const program = buildProgram(
    io,
    (c) => {
      code = c;
    },
    deps,
  );
  try {
    // Terraform spells it `-out FILE`; commander would read that as `-o ut`.
    // Terraform's single-dash spellings: `-out FILE` (commander would read `-o ut`), `-force`, `-migrate-state`.
    const long: Record<string, string> = { '-out': '--out', '-force': '--force', '-migrate-state': '--migrate-state' };
    await program.parseAsync(argv.map((a) => long[a] ?? (a.startsWith('-out=') ? `--out=${a.slice(5)}` : a)));
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version end with exitCode 0; usage errors are exit 1.
      return e.exitCode === 0 ? 0 : 1;
    }
    throw e;
  }
  return code;
}
