/**
 * ReconcileControl is what plan and apply need of the control store (src/control/store.ts): the
 * tokens behind `enforcer_token` resources, and the published rulesets and reports of enforcers
 * reached through their agents. Plan and apply depend on this interface only, so unit tests can
 * give them an in-memory double and the CLI gives them the pg backend's ControlStore.
 */
import type { ControlStore } from './store';

export type ReconcileControl = Pick<
  ControlStore,
  'workspace' | 'tokens' | 'addToken' | 'updateToken' | 'revokeTokens' | 'publish' | 'ruleset' | 'reports' | 'revokeEnforcer'
>;
