/**
 * state list | show ADDR | rm ADDR: look at and edit microseg's record. Addresses are resource
 * addresses (`network_policy.web-db`) or host records (`host.<enforcer>`). `rm` only forgets: it
 * never touches a host (use `destroy` or `cleanup` for that), and takes the state lock.
 */
import { withoutHost, LocalStateStore, type StateFile } from '../../state';
import type { Io } from '../io';
import { hostAddress, renderStateHost, renderStateList, renderStateResource } from '../views/state';
import { failWith, withLock } from './plan';
import { parseLockTimeout } from '../../apply';

export interface StateFlags {
  dir?: string;
  lockTimeout?: string;
}

async function loadOrSay(io: Io, store: LocalStateStore): Promise<StateFile | undefined> {
  const state = await store.load();
  if (!state) io.err(`No state at ${store.description}: nothing has been applied from this directory.\n`);
  return state;
}

export async function stateListCommand(io: Io, flags: StateFlags): Promise<number> {
  try {
    const state = await loadOrSay(io, new LocalStateStore(flags.dir ?? '.'));
    if (!state) return 1;
    renderStateList(io, state);
    return 0;
  } catch (e) {
    return failWith(io, e);
  }
}

export async function stateShowCommand(io: Io, address: string, flags: StateFlags): Promise<number> {
  try {
    const state = await loadOrSay(io, new LocalStateStore(flags.dir ?? '.'));
    if (!state) return 1;
    const host = hostName(state, address);
    if (host !== undefined) {
      renderStateHost(io, host, state.hosts[host]);
      return 0;
    }
    const r = state.resources.find((x) => x.address === address);
    if (!r) {
      io.err(`error: no "${address}" in state. \`microseg state list\` shows what there is.\n`);
      return 1;
    }
    renderStateResource(io, r);
    return 0;
  } catch (e) {
    return failWith(io, e);
  }
}

export async function stateRmCommand(io: Io, address: string, flags: StateFlags): Promise<number> {
  const timeout = parseLockTimeout(flags.lockTimeout ?? '0s');
  if (timeout === undefined) {
    io.err(`error: invalid --lock-timeout "${flags.lockTimeout}"\n`);
    return 1;
  }
  const store = new LocalStateStore(flags.dir ?? '.');
  try {
    return await withLock(store, 'state rm', timeout, true, async () => {
      const state = await loadOrSay(io, store);
      if (!state) return 1;
      const host = hostName(state, address);
      let next: StateFile;
      if (host !== undefined) next = withoutHost(state, host);
      else if (state.resources.some((r) => r.address === address)) next = { ...state, resources: state.resources.filter((r) => r.address !== address) };
      else {
        io.err(`error: no "${address}" in state; nothing was removed.\n`);
        return 1;
      }
      await store.save(next);
      io.out(`Removed ${address} from state. Nothing on any host was changed${host !== undefined ? '; the host keeps its rules until `microseg cleanup` removes them' : ''}.\n`);
      return 0;
    });
  } catch (e) {
    return failWith(io, e);
  }
}

/** hostName resolves `host.NAME` (or a bare enforcer name that is not a resource address) to a host record. */
function hostName(state: StateFile, address: string): string | undefined {
  if (address.startsWith('host.') && state.hosts[address.slice(5)]) return address.slice(5);
  if (!address.includes('.') && state.hosts[address]) return address;
  return undefined;
}

export { hostAddress };
