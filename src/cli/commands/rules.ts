/**
 * rules: print the exact scripts microseg would feed the kernel of one enforcer, with no host
 * access: the full sync's transactions, serialised. The backend is the flag, else the enforcer's
 * own `backend`, else nftables (auto-detection needs the host, which this command never touches).
 */
import type { Io } from '../io';
import { providerFor } from '../../../providers';
import type { BackendName } from '../../../providers/types';
import { didYouMean, makeDiagnostic } from '../../diagnostics';
import { ApplyCodes } from '../../plan/reconciler-codes';
import { countLine } from '../views/diagnostics';
import { viewFor } from '../views/view';
import { loadConfiguration, type VarOptions } from './common';

const BACKENDS: BackendName[] = ['nftables', 'iptables-nft', 'iptables-legacy'];

export async function rulesCommand(io: Io, dir: string, opts: VarOptions & { enforcer: string; backend?: string }): Promise<number> {
  const view = viewFor(io, false);
  if (opts.backend !== undefined && !BACKENDS.includes(opts.backend as BackendName)) {
    return view.fail([makeDiagnostic('error', ApplyCodes.badArgument, `Unknown backend "${opts.backend}"`, `Use one of ${BACKENDS.join(', ')}.`)]);
  }
  const p = await loadConfiguration(view, dir, opts, { compile: true, strict: false });
  if (!p) return 1;
  const model = p.model!;
  const enforcer = model.enforcers.find((e) => e.name === opts.enforcer);
  if (!enforcer) {
    const names = model.enforcers.map((e) => e.name);
    const hint = didYouMean(opts.enforcer, names);
    return view.fail([
      makeDiagnostic('error', ApplyCodes.badArgument, `No enforcer "${opts.enforcer}" in ${dir}${hint ? `; did you mean "${hint}"?` : ''}`, `Enforcers: ${names.join(', ') || '(none)'}.`),
    ]);
  }
  const compiled = p.compiled!;
  const desired = compiled.rulesets.find((r) => r.enforcer === enforcer.name);
  // Errors of other hosts do not stop this one; the model's and this host's do.
  const others = new Set(compiled.rulesets.filter((r) => r !== desired).flatMap((r) => r.diagnostics));
  const mine = compiled.diagnostics.filter((d) => !others.has(d));
  if (mine.some((d) => d.severity === 'error')) {
    // Its diagnostics were reported with the configuration's; this closes them.
    view.note(`Cannot render rules for enforcer "${enforcer.name}": ${countLine(mine)}.`);
    return 1;
  }
  if (!desired) return view.fail([makeDiagnostic('error', ApplyCodes.renderFailed, `Compile produced no ruleset for enforcer "${enforcer.name}"`)]);
  const backend = (opts.backend ?? (enforcer.backend === 'auto' ? 'nftables' : enforcer.backend)) as BackendName;
  const provider = providerFor(backend);
  const steps = provider.fullSync(desired, undefined, 'rules').map((tx) => provider.serialize(tx));
  io.out(`# microseg rules for enforcer "${enforcer.name}", backend ${backend}\n`);
  for (const step of steps) {
    io.out(`\n# ---- ${step.argv.join(' ')} <<EOF\n${step.stdin}${step.stdin.endsWith('\n') ? '' : '\n'}# ---- EOF\n`);
  }
  return 0;
}
