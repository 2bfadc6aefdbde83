/**
 * Control plane administration: `token create|list|revoke` and `ca status|rotate|bundle`. Each
 * opens the database from PG_CONN_STR, does one thing, and closes it. Only `token create` ever
 * prints a token secret, once, on stdout, so scripts can capture it.
 */
import { CaError, caSecret, signingCa, type CaRecord } from '../../control/ca';
import { ControlOpenError, openControl, type ControlConnection } from '../../control/open';
import { newToken, publicView, TokenError } from '../../control/tokens';
import { DiagnosticsError, makeDiagnostic } from '../../diagnostics';
import type { Io } from '../io';
import { viewFor } from '../views/view';

export interface ControlFlags {
  json?: boolean;
  workspace?: string;
  schema?: string;
}

/** asDiagnostics turns the control plane's coded errors into diagnostics; anything else propagates as a bug. */
export function asControlDiagnostics(e: unknown): unknown {
  if (e instanceof CaError || e instanceof TokenError || e instanceof ControlOpenError) {
    return new DiagnosticsError([makeDiagnostic('error', e.code, e.message)]);
  }
  return e;
}

async function withControl(io: Io, flags: ControlFlags, fn: (c: ControlConnection) => Promise<number>, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const view = viewFor(io, flags.json);
  let c: ControlConnection | undefined;
  try {
    c = await openControl({ env, schema: flags.schema, workspace: flags.workspace });
    return await fn(c);
  } catch (e) {
    return view.thrown(asControlDiagnostics(e));
  } finally {
    await c?.close();
  }
}

export interface TokenCreateFlags extends ControlFlags {
  networks?: string;
  quota?: string;
  validity?: string;
  roles?: string;
}

const list = (s: string | undefined) => (s ?? '').split(',').map((x) => x.trim()).filter((x) => x !== '');

export function tokenCreateCommand(io: Io, name: string, flags: TokenCreateFlags, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  return withControl(
    io,
    flags,
    async ({ store }) => {
      const quota = flags.quota === undefined ? 0 : Number(flags.quota);
      const { record, token } = newToken(
        { name, networks: list(flags.networks), quota, validity: flags.validity ?? '24h', roles: flags.roles ? list(flags.roles) : undefined },
        new Date(),
      );
      await store.addToken(record);
      const view = viewFor(io, flags.json);
      view.result(
        (o) => {
          o.out(`${token}\n`);
          o.err(
            `Token ${record.id} (${name}) for workspace ${store.workspace}: ${record.quota === 0 ? 'no quota' : `quota ${record.quota}`}, ` +
              `${record.networks.length ? `from ${record.networks.join(', ')}` : 'from anywhere'}, valid until ${record.expiresAt}. ` +
              `It is shown only now; only its hash is kept.\n`,
          );
        },
        () => ({ format_version: 1, token, ...publicView(record) }),
      );
      return 0;
    },
    env,
  );
}

export function tokenListCommand(io: Io, flags: ControlFlags, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  return withControl(
    io,
    flags,
    async ({ store }) => {
      const ts = (await store.tokens()).map(publicView);
      const now = Date.now();
      viewFor(io, flags.json).result(
        (o) => {
          if (ts.length === 0) o.out('No tokens.\n');
          for (const t of ts) {
            const state = t.revokedAt ? 'revoked' : Date.parse(t.expiresAt) <= now ? 'expired' : 'valid';
            o.out(`${t.id}  ${t.name}  ${state}  used ${t.used}${t.quota ? `/${t.quota}` : ''}  networks ${t.networks.join(',') || 'any'}  until ${t.expiresAt}\n`);
          }
        },
        () => ({ format_version: 1, tokens: ts }),
      );
      return 0;
    },
    env,
  );
}

export function tokenRevokeCommand(io: Io, nameOrId: string, flags: ControlFlags, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  return withControl(
    io,
    flags,
    async ({ store }) => {
      const n = await store.revokeTokens(nameOrId, new Date());
      if (n === 0) {
        throw new DiagnosticsError([makeDiagnostic('error', 'MSEG9818', `No valid token named or with id ${JSON.stringify(nameOrId)}`, '`microseg token list` shows the tokens.')]);
      }
      viewFor(io, flags.json).result(
        (o) => o.out(`Revoked ${n} token(s). Certificates already issued with them stay valid; revoke an enforcer by decommissioning it.\n`),
        () => ({ format_version: 1, revoked: n }),
      );
      return 0;
    },
    env,
  );
}

function caView(cas: readonly CaRecord[]): Array<Omit<CaRecord, 'key' | 'certPem'>> {
  return cas.map(({ key: _k, certPem: _c, ...rest }) => rest);
}

export interface CaRotateFlags extends ControlFlags {
  advance?: boolean;
  force?: boolean;
}

export function caStatusCommand(io: Io, flags: ControlFlags, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  return withControl(
    io,
    flags,
    async ({ store }) => {
      const cas = await store.cas();
      const agents = await store.agentTrust();
      viewFor(io, flags.json).result(
        (o) => {
          if (cas.length === 0) o.out('No CA yet: the first `microseg server` (or `microseg ca rotate`) creates one.\n');
          for (const c of cas) o.out(`${c.role.padEnd(8)}  ${c.id}  created ${c.createdAt}\n`);
          if (cas.length > 0) {
            const signing = signingCa(cas).id;
            const stale = agents.filter((a) => a.certCaId !== signing).length;
            o.out(`${agents.length} agent(s) with a live certificate; ${stale} signed by a CA that no longer signs.\n`);
          }
        },
        () => ({ format_version: 1, cas: caView(cas), agents }),
      );
      return 0;
    },
    env,
  );
}

/**
 * `ca rotate` stages a new CA (creating the first one when there is none); `ca rotate --advance`
 * takes the rotation's next step when every agent is ready, or with `--force` regardless (agents
 * that have not caught up then lose their connection: they re-register with a token).
 */
export function caRotateCommand(io: Io, flags: CaRotateFlags, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  return withControl(
    io,
    flags,
    async ({ store }) => {
      const secret = caSecret(env);
      const now = new Date();
      const view = viewFor(io, flags.json);
      if (flags.advance) {
        const step = await store.advanceRotation(now, flags.force);
        view.result(
          (o) => {
            if (step.step === 'none') o.out('No rotation under way.\n');
            else if (step.step === 'wait') {
              o.out(
                step.phase === 'staged'
                  ? `Waiting for ${step.waitingFor.length} agent(s) to trust the new CA: ${step.waitingFor.join(', ')}\n`
                  : `Waiting for ${step.waitingFor.length} agent(s) to renew their certificate from the new CA: ${step.waitingFor.join(', ')}\n`,
              );
            } else o.out(step.step === 'promote' ? 'The new CA now signs; the old one stays trusted until every agent renews.\n' : 'The old CA is retired.\n');
          },
          () => ({ format_version: 1, step: step.step, ...(step.step === 'wait' ? { phase: step.phase, waiting_for: step.waitingFor } : {}) }),
        );
        return step.step === 'wait' ? 2 : 0;
      }
      const first = await store.ensureCa(now, secret);
      if (first.created) {
        view.result(
          (o) => o.out('Created the first CA (there was none); nothing to rotate yet.\n'),
          () => ({ format_version: 1, created: true, cas: caView(first.cas) }),
        );
        return 0;
      }
      const cas = await store.rotate(now, secret);
      view.result(
        (o) =>
          o.out(
            'A new CA is staged beside the signing one and published to agents. Servers promote it once every agent trusts it ' +
              'and retire the old one once every agent has renewed (`microseg ca status`; `microseg ca rotate --advance` to step by hand).\n',
          ),
        () => ({ format_version: 1, cas: caView(cas) }),
      );
      return 0;
    },
    env,
  );
}

export function caBundleCommand(io: Io, flags: ControlFlags, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  return withControl(
    io,
    flags,
    async ({ store }) => {
      const bundle = await store.bundle();
      if (!bundle) throw new DiagnosticsError([makeDiagnostic('error', 'MSEG9819', 'No CA yet', 'The first `microseg server` (or `microseg ca rotate`) creates one.')]);
      io.out(bundle);
      return 0;
    },
    env,
  );
}
