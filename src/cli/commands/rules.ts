/**
 * rules: print the exact scripts microseg would feed the kernel of one enforcer, with no host
 * access. The backend is the flag, else the enforcer's own `backend`, else nftables (auto-detection
 * needs the host, which this command never touches).
 */
import { compile } from '../../compile';
import type { Io } from '../io';
import { providerFor } from '../../../providers';
import type { BackendName } from '../../../providers/types';
import { didYouMean } from '../../diagnostics';
import { countLine, renderDiagnosticsHuman } from '../views/diagnostics';
import { loadAndValidate, VarOptions } from './common';

const BACKENDS: BackendName[] = ['nftables', 'iptables-nft', 'iptables-legacy'];

export async function rulesCommand(
  io: Io,
  dir: string,
  opts: VarOptions & { enforcer: string; backend?: string },
): Promise<number> {
  if (opts.backend !== undefined && !BACKENDS.includes(opts.backend as BackendName)) {
    io.err(`error: unknown backend "${opts.backend}"; use one of ${BACKENDS.join(', ')}.\n`);
    return 1;
  }
  const { model, diagnostics, raw } = await loadAndValidate(dir, opts);
  if (!model || diagnostics.some((d) => d.severity === 'error')) {
    renderDiagnosticsHuman(io, diagnostics, raw.sources);
    io.err(`The configuration is invalid: ${countLine(diagnostics)}.\n`);
    return 1;
  }
  const enforcer = model.enforcers.find((e) => e.name === opts.enforcer);
  if (!enforcer) {
    const names = model.enforcers.map((e) => e.name);
    const hint = didYouMean(opts.enforcer, names);
    io.err(
      `error: no enforcer "${opts.enforcer}" in ${dir}${hint ? `; did you mean "${hint}"?` : ''}\n` +
        `  enforcers: ${names.join(', ') || '(none)'}\n`,
    );
    return 1;
  }
  const compiled = compile(model, { now: new Date() });
  const hostDiags = [
    ...compiled.diagnostics,
    ...(compiled.rulesets.find((r) => r.enforcer === enforcer.name)?.diagnostics ?? []),
  ];
  renderDiagnosticsHuman(io, [...diagnostics, ...hostDiags], raw.sources);
  if (hostDiags.some((d) => d.severity === 'error')) {
    io.err(`Cannot render rules for enforcer "${enforcer.name}": ${countLine(hostDiags)}.\n`);
    return 1;
  }
  const desired = compiled.rulesets.find((r) => r.enforcer === enforcer.name);
  if (!desired) {
    io.err(`error: compile produced no ruleset for enforcer "${enforcer.name}"\n`);
    return 1;
  }
  const backend = (opts.backend ?? (enforcer.backend === 'auto' ? 'nftables' : enforcer.backend)) as BackendName;
  const provider = providerFor(backend);
  const steps = provider.fullSync(desired, undefined, 'rules').map((tx) => provider.serialize(tx));
  io.out(`# microseg rules for enforcer "${enforcer.name}", backend ${backend}\n`);
  for (const step of steps) {
    io.out(`\n# ---- ${step.argv.join(' ')} <<EOF\n${step.stdin}${step.stdin.endsWith('\n') ? '' : '\n'}# ---- EOF\n`);
  }
  return 0;
}
