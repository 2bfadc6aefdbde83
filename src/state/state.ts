/**
 * Pure helpers that build and update StateFile values. The executor records each host as soon as
 * it is verified (a failure on one host must not lose another's record), so updates are per host.
 */
import { randomUUID } from 'crypto';
import type { Family, Hook } from '../compile/ir';
import { PACKAGE_VERSION } from '../version';
import { STATE_VERSION, type StateFile, type StateHost, type StateOwned } from './types';

/** newState is an empty state with a fresh lineage; serial 0 means "never written". */
export function newState(lineage: string = randomUUID()): StateFile {
  return { version: STATE_VERSION, serial: 0, lineage, microseg_version: PACKAGE_VERSION, resources: [], hosts: {} };
}

/** withHost returns `state` with `enforcer`'s record replaced by `host`. */
export function withHost(state: StateFile, enforcer: string, host: StateHost): StateFile {
  return { ...state, hosts: sortKeys({ ...state.hosts, [enforcer]: host }) };
}

/** withoutHost returns `state` without `enforcer` (after a verified decommission). */
export function withoutHost(state: StateFile, enforcer: string): StateFile {
  const hosts = { ...state.hosts };
  delete hosts[enforcer];
  return { ...state, hosts };
}

/**
 * OwnedRead is the part of a read-back of a host (providers' LiveRuleset) that state records; it is
 * spelled out here so that state does not depend on the providers.
 */
export interface OwnedRead {
  sets: ReadonlyArray<{ name: string; family: Family; elements: readonly string[] }>;
  chains: ReadonlyArray<{ name: string; hook?: Hook; ruleIds: readonly string[]; rules?: readonly string[] }>;
  hooks: ReadonlyArray<{ hook: Hook; family: Family; present: boolean }>;
}

/**
 * ownedFromLive is what to record after a verified apply: exactly what was read back, so the next
 * plan's drift check compares the kernel with what really was there, not with what we meant.
 */
export function ownedFromLive(live: OwnedRead): StateOwned {
  return {
    sets: [...live.sets]
      .map((s) => ({ name: s.name, family: s.family, elements: [...s.elements] }))
      .sort((a, b) => cmp(a.name, b.name)),
    chains: live.chains.map((c) => ({ name: c.name, ...(c.hook ? { hook: c.hook } : {}), ruleIds: [...c.ruleIds], ...(c.rules ? { rules: [...c.rules] } : {}) })),
    hooks: live.hooks.filter((h) => h.present).map((h) => ({ hook: h.hook, family: h.family })),
  };
}

function sortKeys<T>(o: { [k: string]: T }): { [k: string]: T } {
  const out: { [k: string]: T } = {};
  for (const k of Object.keys(o).sort(cmp)) out[k] = o[k];
  return out;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
