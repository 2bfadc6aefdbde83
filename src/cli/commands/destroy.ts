/**
 * destroy: decommission every enforcer in the configuration and in state: remove every hook,
 * chain, rule, set and the nft table, read back, prove nothing owned is left, and drop the host
 * from state. Unreachable hosts stay in state as pending cleanup.
 */
import type { CliDeps, Io } from '../io';
import { reconcileDir, type ApplyFlags, type Ask } from './apply';

export function destroyCommand(io: Io, dir: string, flags: ApplyFlags, ask?: Ask, deps: CliDeps = {}): Promise<number> {
  return reconcileDir(io, dir, flags, { destroy: true, ask, connect: deps.connect });
}
