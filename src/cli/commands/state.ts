/**
 * state list | show ADDR | rm ADDR | pull | push FILE: look at, edit and move microseg's record,
 * in whichever backend the configuration in --dir selects (and the selected workspace).
 * Addresses are resource addresses (`network_policy.web-db`) or host records (`host.<enforcer>`).
 * `rm` only forgets: it never touches a host (use `destroy` or `cleanup` for that), and takes the
 * state lock. `pull` prints the state document; `push` replaces the stored state with a file's,
 * refusing another lineage or a lower serial unless -force.
 */
import { promises as fsp } from 'fs';
import { makeDiagnostic, withAddress, type Diagnostic } from '../../diagnostics';
import { parseStateText, stateFileText, StateCodes, withoutHost, type StateFile, type StateStore } from '../../state';
import { DiagnosticsError } from '../../diagnostics';
import type { Io } from '../io';
import { hostAddress, renderStateHost, renderStateList, renderStateResource } from '../views/state';
import { viewFor, type View } from '../views/view';
import { ApplyCodes } from '../../plan';
import { withBackend } from './backend';
import { withLock } from './plan';
import { parseLockTimeout } from '../../apply';

export interface StateFlags {
  dir?: string;
  lockTimeout?: string;
  force?: boolean;
}

/** loadOrSay loads the state, or (after the view said so, as `show` does) undefined when there is none. */
async function loadOrSay(view: View, store: StateStore): Promise<StateFile | undefined> {
  const state = await store.load();
  if (!state) view.fail([makeDiagnostic('error', ApplyCodes.noState, `No state at ${store.description}`, 'Nothing was applied from this directory yet, or --dir names another project.')]);
  return state;
}

export async function stateListCommand(io: Io, flags: StateFlags): Promise<number> {
  const view = viewFor(io, false);
  return withBackend(view, flags.dir ?? '.', {}, async ({ store }) => {
    const state = await loadOrSay(view, store);
    if (!state) return 1;
    renderStateList(io, state);
    return 0;
  });
}

export async function stateShowCommand(io: Io, address: string, flags: StateFlags): Promise<number> {
  const view = viewFor(io, false);
  return withBackend(view, flags.dir ?? '.', {}, async ({ store }) => {
    const state = await loadOrSay(view, store);
    if (!state) return 1;
    const host = hostName(state, address);
    if (host !== undefined) {
      renderStateHost(io, host, state.hosts[host]);
      return 0;
    }
    const r = state.resources.find((x) => x.address === address);
    if (!r) return view.fail([notInState(address, 'nothing to show')]);
    renderStateResource(io, r);
    return 0;
  });
}

export async function stateRmCommand(io: Io, address: string, flags: StateFlags): Promise<number> {
  const view = viewFor(io, false);
  const timeout = lockTimeoutOf(view, flags);
  if (timeout === undefined) return 1;
  return withBackend(view, flags.dir ?? '.', {}, ({ store }) =>
    withLock(store, 'state rm', timeout, true, async () => {
      const state = await loadOrSay(view, store);
      if (!state) return 1;
      const host = hostName(state, address);
      let next: StateFile;
      if (host !== undefined) next = withoutHost(state, host);
      else if (state.resources.some((r) => r.address === address)) next = { ...state, resources: state.resources.filter((r) => r.address !== address) };
      else return view.fail([notInState(address, 'nothing was removed')]);
      await store.save(next);
      io.out(`Removed ${address} from state. Nothing on any host was changed${host !== undefined ? '; the host keeps its rules until `microseg cleanup` removes them' : ''}.\n`);
      return 0;
    }),
  );
}

/** state pull: the stored state as the state-file document on stdout (exit 1 when there is none). */
export async function statePullCommand(io: Io, flags: StateFlags): Promise<number> {
  const view = viewFor(io, false);
  return withBackend(view, flags.dir ?? '.', {}, async ({ store }) => {
    const state = await loadOrSay(view, store);
    if (!state) return 1;
    io.out(stateFileText(state));
    return 0;
  });
}

/**
 * state push FILE: replace the stored state with FILE's, under the lock. Refused (MSEG8440)
 * without -force when FILE is of another lineage or has a lower serial than what is stored. A
 * serial higher than the stored one is kept; an equal or (forced) lower one is stored as the
 * stored serial + 1, so a plan saved against the replaced state is refused, never applied to it.
 */
export async function statePushCommand(io: Io, file: string, flags: StateFlags): Promise<number> {
  const view = viewFor(io, false);
  const timeout = lockTimeoutOf(view, flags);
  if (timeout === undefined) return 1;
  let pushed: StateFile;
  try {
    pushed = parseStateText(await fsp.readFile(file, 'utf8'), file);
  } catch (e) {
    if (DiagnosticsError.isInstance(e)) return view.thrown(e);
    return view.fail([makeDiagnostic('error', StateCodes.pushUnreadable, `Cannot read ${file}`, (e as Error).message)]);
  }
  return withBackend(view, flags.dir ?? '.', {}, ({ store }) =>
    withLock(store, 'state push', timeout, true, async () => {
      const current = await store.load();
      const problems: string[] = [];
      if (current && current.lineage !== pushed.lineage) problems.push(`${file} has lineage ${pushed.lineage}; the stored state has lineage ${current.lineage} (another project's state, or one re-created from scratch).`);
      if (current && current.lineage === pushed.lineage && pushed.serial < current.serial) problems.push(`${file} has serial ${pushed.serial}, older than the stored serial ${current.serial}: pushing it would forget what later runs recorded about the hosts.`);
      if (problems.length && !flags.force) {
        return view.fail([
          makeDiagnostic('error', StateCodes.pushRefused, `Refusing to push ${file} over the stored state`, `${problems.join('\n')}\nNothing was written. Use -force only if you are sure the file is the truth about every host.`),
        ]);
      }
      const serial = current && pushed.serial <= current.serial ? current.serial + 1 : pushed.serial;
      await store.replace({ ...pushed, serial });
      io.out(`Pushed ${file} to ${store.description} (lineage ${pushed.lineage}, serial ${serial}).\n`);
      return 0;
    }),
  );
}

/** lockTimeoutOf parses --lock-timeout (default 0s); undefined after the view said why it is invalid. */
function lockTimeoutOf(view: View, flags: StateFlags): number | undefined {
  const timeout = parseLockTimeout(flags.lockTimeout ?? '0s');
  if (timeout === undefined) view.fail([makeDiagnostic('error', ApplyCodes.badFlag, `Invalid --lock-timeout "${flags.lockTimeout}"`, 'Write a duration such as 0s, 500ms, 30s or 2m.')]);
  return timeout;
}

/** notInState: ADDRESS names nothing the state records (`what` says what did not happen). */
function notInState(address: string, what: string): Diagnostic {
  return withAddress(
    makeDiagnostic('error', StateCodes.addressNotInState, `No "${address}" in state; ${what}`, '`microseg state list` shows the resource addresses and hosts (`host.NAME`) the state records.'),
    address,
  );
}

/** hostName resolves `host.NAME` (or a bare enforcer name that is not a resource address) to a host record. */
function hostName(state: StateFile, address: string): string | undefined {
  if (address.startsWith('host.') && state.hosts[address.slice(5)]) return address.slice(5);
  if (!address.includes('.') && state.hosts[address]) return address;
  return undefined;
}

export { hostAddress };
