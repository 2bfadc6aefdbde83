/**
 * applyTokens runs a plan's TokenPlans against the control store. Tokens are re-read at apply
 * time and re-planned from the same terms, so a token another run created meanwhile is updated,
 * never duplicated.
 *
 * Where the secret goes: a token is the one credential an agent presents to register, so it must
 * reach whoever installs the agent, once, and nowhere else. apply's stdout and stderr are CI logs
 * (kept, searchable, often public to the organisation), and state and plan files are committed or
 * uploaded as artifacts, so none of them may carry it. It is written to a file of mode 0600 in a
 * directory of mode 0700 (`--token-dir`, default `.microseg/tokens`), created exclusively and named
 * by the token's id; apply's output names the file. A pipeline moves it to its secret store in the
 * next step and deletes it. A token whose file cannot be written is revoked at once: a token
 * nobody can read must not stay valid. For a token made outside a configuration, `microseg token
 * create` prints it on stdout instead.
 */
import { promises as fsp } from 'fs';
import * as path from 'path';
import { makeDiagnostic, type Diagnostic } from '../diagnostics';
import type { ReconcileControl } from '../control/reconcile-control';
import { AgentCodes } from '../control/reconcile-codes';
import { expiresAt } from '../control/token-plan';
import { newToken } from '../control/tokens';
import type { TokenPlan } from '../plan/types';

export interface TokenOutcome {
  address: string;
  action: TokenPlan['action'];
  status: 'created' | 'updated' | 'revoked' | 'unchanged' | 'failed';
  id?: string;
  /** Where the new token's secret was written (create only); the secret itself is nowhere in the result. */
  secret_file?: string;
  error?: string;
}

export async function applyTokens(
  plans: readonly TokenPlan[],
  control: ReconcileControl,
  opts: { tokenDir: string; now?: Date },
): Promise<{ outcomes: TokenOutcome[]; diagnostics: Diagnostic[] }> {
  const now = opts.now ?? new Date();
  const outcomes: TokenOutcome[] = [];
  const diagnostics: Diagnostic[] = [];
  const live = () => control.tokens().then((ts) => ts.filter((t) => !t.revokedAt));
  for (const p of plans) {
    if (p.action === 'noop') {
      outcomes.push({ address: p.address, action: p.action, status: 'unchanged', id: p.id });
      continue;
    }
    try {
      if (p.action === 'revoke') {
        const n = await control.revokeTokens(p.id ?? p.address, now);
        outcomes.push({ address: p.address, action: p.action, status: n > 0 ? 'revoked' : 'unchanged', id: p.id });
        continue;
      }
      const terms = p.terms!;
      const existing = (await live()).filter((t) => t.name === p.address).pop();
      if (existing) {
        await control.updateToken(existing.id, {
          namespace: terms.namespace,
          roles: terms.roles,
          networks: terms.networks,
          quota: terms.quota,
          expiresAt: new Date(expiresAt(existing.createdAt, terms.validity)).toISOString(),
        });
        outcomes.push({ address: p.address, action: p.action, status: 'updated', id: existing.id });
        continue;
      }
      const { record, token } = newToken({ name: p.address, ...terms }, now);
      await control.addToken(record);
      let file: string;
      try {
        file = await writeSecret(opts.tokenDir, p.address, record.id, token);
      } catch (e) {
        await control.revokeTokens(record.id, now).catch(() => undefined);
        throw new SecretFileError(`the secret could not be written under ${opts.tokenDir} (${(e as Error).message}); the new token ${record.id} was revoked again`);
      }
      outcomes.push({ address: p.address, action: p.action, status: 'created', id: record.id, secret_file: file });
    } catch (e) {
      const msg = (e as Error).message;
      outcomes.push({ address: p.address, action: p.action, status: 'failed', id: p.id, error: msg });
      diagnostics.push(
        makeDiagnostic('error', e instanceof SecretFileError ? AgentCodes.tokenSecretFile : AgentCodes.tokenApplyFailed, `${p.address}: ${p.action} of the token failed`, `${msg}\nThe next apply retries.`),
      );
    }
  }
  return { outcomes, diagnostics };
}

class SecretFileError extends Error {}

/** writeSecret writes one token, exclusively, mode 0600, in a 0700 directory; returns the file's path. */
async function writeSecret(dir: string, address: string, id: string, token: string): Promise<string> {
  await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, `${address.replace(/[^A-Za-z0-9_.-]/g, '_')}.${id}.token`);
  const fh = await fsp.open(file, 'wx', 0o600);
  try {
    await fh.writeFile(`${token}\n`);
    // The mode given to open is masked by the umask; a token file is never group- or world-readable.
    await fh.chmod(0o600);
  } finally {
    await fh.close();
  }
  return file;
}
