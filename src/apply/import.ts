/**
 * importHost: adopt into state a host that already holds microseg objects the state knows nothing
 * about (plan's MSEG8250), as Terraform's `import` adopts a resource. Typical case: the state that
 * applied the host is elsewhere (a runner's local file, another backend or workspace) and cannot be
 * moved with it.
 *
 * What is recorded is what the host really holds, read now, never what the configuration wants: the
 * next plan then compares the kernel with the configuration as for any known host, and shows only
 * the real difference (drift is live vs this record, so none right after the import).
 *
 * Resource records mean "as last applied". Import can claim that only when the configuration is in
 * fact what every host holds: when, with this host adopted, every configured host is recorded and
 * has nothing to change, no drift and no orphans, and no decommission is pending, the configuration's
 * resources (and its model, for `plan --explain`) are recorded too. Otherwise they are left alone
 * and the next apply records them, so a half-imported fleet never looks applied.
 *
 * Nothing is sent to any host. The caller holds the state lock.
 */
import { enforcerAddress, makeDiagnostic, withAddress, type Diagnostic } from '../diagnostics';
import { AdoptCodes, hostDiff, modelResources, ownedCounts, planRun, resourceRecord, type HostPlan, type PlanRunOptions } from '../plan';
import { newState, ownedFromLive, withHost, type StateFile, type StateHost } from '../state';

/** ImportResult is what an import did, for the views (`state` absent: nothing was written). */
export interface ImportResult {
  enforcer: string;
  /** Configuration and plan diagnostics, and the reason the import was refused if it was. */
  diagnostics: Diagnostic[];
  sources: ReadonlyMap<string, string>;
  /** Set when the host was adopted. */
  imported?: {
    backend: string;
    /** e.g. "3 chains, 2 sets, 2 hooks (nftables)". */
    owned: string;
    fingerprint: string;
    /** Whether the configuration's resources were recorded as applied (see the module comment). */
    resources_recorded: boolean;
    /** When they were not: the hosts that still differ from the configuration or are not recorded. */
    hosts_not_in_sync: string[];
    /** What the host still lacks or holds beyond the configuration (its own plan action after import). */
    host_action: HostPlan['action'];
    serial: number;
  };
}

/** importHost adopts `enforcer`'s host into the state of `opts.store` (see the module comment). */
export async function importHost(dir: string, enforcer: string, opts: PlanRunOptions): Promise<ImportResult> {
  const name = enforcer.startsWith('enforcer.') ? enforcer.slice('enforcer.'.length) : enforcer;
  const r = await planRun(dir, { ...opts, targets: undefined, destroy: false, explain: false });
  const out: ImportResult = { enforcer: name, diagnostics: [...r.diagnostics], sources: r.sources };
  const refuse = (code: string, summary: string, detail: string): ImportResult => {
    out.diagnostics.push(withAddress(makeDiagnostic('error', code, summary, detail), enforcerAddress(name)));
    return out;
  };
  if (!r.plan || !r.model) return out; // the configuration failed; planRun said why
  const plan = r.plan;
  if (!r.model.enforcers.some((e) => e.name === name)) {
    const known = r.model.enforcers.map((e) => e.name).sort();
    return refuse(
      AdoptCodes.importUnknownEnforcer,
      `The configuration in ${dir} declares no enforcer "${name}"`,
      `import adopts a host the configuration declares, so that the next plan can compare it with its rules. Declared: ${known.join(', ') || '(none)'}.`,
    );
  }
  const state = r.state;
  if (state?.hosts[name]) {
    return refuse(
      AdoptCodes.importAlreadyInState,
      `The state already records enforcer "${name}"`,
      `${opts.store.description} has a record of it (status ${state.hosts[name].status}); \`microseg plan\` compares it with the host. ` +
        `To adopt the host again from scratch, remove the record first with \`microseg state rm host.${name}\`.`,
    );
  }
  const read = r.reads.get(name);
  if (!read?.reachable || !read.live || !read.backend) {
    return refuse(AdoptCodes.importUnreadable, `Cannot read enforcer "${name}" to import it`, `${read?.error ?? 'The host could not be read.'} Nothing was recorded.`);
  }
  const live = read.live;
  if (live.sets.length === 0 && live.chains.length === 0 && !live.hooks.some((h) => h.present)) {
    return refuse(
      AdoptCodes.importNothingOwned,
      `Enforcer "${name}" holds no microseg objects: there is nothing to import`,
      `Its ${read.backend} firewall has no microseg table, chain, set or hook. \`microseg apply\` creates them; nothing was recorded.`,
    );
  }
  const now = (opts.now ?? new Date()).toISOString();
  const host: StateHost = { backend: read.backend, connection: read.connection, owned: ownedFromLive(live), fingerprint: live.fingerprint, status: 'applied', updated_at: now };
  let next: StateFile = withHost(state ?? newState(), name, host);

  // The host's plan as it will be from now on: compared with the record just made.
  const adopted = hostDiff(plan.desired[name], live, host, { enforcer: name }).plan;
  const hosts = plan.hosts.map((h) => (h.enforcer === name ? adopted : h));
  const configured = new Set(r.model.enforcers.map((e) => e.name));
  const notInSync = hosts
    .filter((h) => !configured.has(h.enforcer) || !next.hosts[h.enforcer] || h.action !== 'noop' || h.drift.length > 0 || h.orphans.length > 0 || h.blocked_by)
    .map((h) => h.enforcer);
  for (const e of configured) if (!hosts.some((h) => h.enforcer === e)) notInSync.push(e);
  const inSync = notInSync.length === 0;
  if (inSync) next = { ...next, resources: modelResources(r.model).map(resourceRecord), applied_model: r.model };

  const saved = await opts.store.save(next);
  out.imported = {
    backend: read.backend,
    owned: ownedCounts(live),
    fingerprint: live.fingerprint,
    resources_recorded: inSync,
    hosts_not_in_sync: [...new Set(notInSync)].sort(),
    host_action: adopted.action,
    serial: saved.serial,
  };
  // The warning that led here is answered; keep the others (a configuration warning still holds).
  out.diagnostics = out.diagnostics.filter((d) => !(d.code === AdoptCodes.stateElsewhere && d.address === enforcerAddress(name)));
  return out;
}
