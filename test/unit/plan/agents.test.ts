/**
 * Agent enforcers and enforcer tokens at the unit level: validation of `connection { type =
 * "agent" }` in HCL and TypeScript, the local-backend refusals at the block's file:line:column
 * (nothing contacted), the pure token planner, and plan/apply against an in-memory control store
 * (ReconcileControl double) with the human and JSON views rendered from the same plan.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Enforcer } from '../../../src';
import { applyPlan } from '../../../src/apply';
import { renderPlanHuman } from '../../../src/cli/views/plan';
import { BufferIo } from '../../../src/cli/io';
import type { ReconcileControl } from '../../../src/control/reconcile-control';
import { planTokens } from '../../../src/control/token-plan';
import { newToken, type TokenRecord } from '../../../src/control/tokens';
import { runPipeline } from '../../../src/pipeline';
import { planRun } from '../../../src/plan';
import { LocalStateStore } from '../../../src/state';
import { validateConfig } from '../../../src/model/validate';
import { FakeFirewall } from '../../../providers/fake';
import type { EnforcerToken } from '../../../src/model/types';

const AGENTS = `namespace "/t" {}
enforcer "a1" {
  namespace = "/t"
  connection {
    type = "agent"
  }
}
enforcer "a2" {
  namespace = "/t"
  connection {
    type = "agent"
  }
}
processing_unit "p1" {
  namespace = "/t"
  enforcer  = enforcer.a1.name
  addresses = ["198.18.9.1"]
  tags      = ["app=x"]
}
enforcer_token "fleet" {
  namespace = "/t"
  roles     = ["enforcer"]
  networks  = ["198.18.0.0/15"]
  quota     = 3
}
`;

function tmp(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mseg-agents-unit-'));
  for (const [f, t] of Object.entries(files)) fs.writeFileSync(path.join(dir, f), t);
  return dir;
}

describe('connection type "agent"', () => {
  it('validates in HCL; two agent enforcers are two hosts', async () => {
    const dir = tmp({ 'main.hcl': AGENTS });
    try {
      const p = await runPipeline(dir, { compile: true });
      expect(p.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
      expect(p.model!.enforcers.map((e) => e.connection)).toEqual([{ type: 'agent' }, { type: 'agent' }]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses unknown attributes in an agent connection at their line', async () => {
    const dir = tmp({ 'main.hcl': 'enforcer "a" {\n  connection {\n    type = "agent"\n    host = "x"\n  }\n}\n' });
    try {
      const p = await runPipeline(dir);
      const err = p.diagnostics.find((d) => d.severity === 'error');
      expect(err).toEqual(expect.objectContaining({ file: expect.stringContaining('main.hcl'), line: expect.any(Number) }));
      expect(err!.line).toBeGreaterThanOrEqual(2);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is a connection type in TypeScript configurations', () => {
    const app = new App();
    new Enforcer(app, 'a1', { connection: { type: 'agent' } });
    const { model, diagnostics } = validateConfig(app.synth());
    expect(diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(model!.enforcers[0].connection).toEqual({ type: 'agent' });
  });
});

describe('with the local backend', () => {
  it('an enforcer_token and agent enforcers are errors at their blocks, and no host is contacted', async () => {
    const dir = tmp({ 'main.hcl': AGENTS });
    try {
      const fake = new FakeFirewall();
      const connect = jest.fn(fake.connect);
      const r = await planRun(dir, { store: new LocalStateStore(dir), connect });
      const at = (code: string) => r.diagnostics.filter((d) => d.code === code).map((d) => `${path.basename(d.file ?? '?')}:${d.line}:${d.column}`);
      expect(at('MSEG9870')).toEqual(['main.hcl:20:1']);
      expect(at('MSEG9871')).toEqual(['main.hcl:2:1', 'main.hcl:8:1']);
      expect(connect).not.toHaveBeenCalled();
      const result = applyPlan(r.plan!, { store: new LocalStateStore(dir), connect });
      await expect(result).rejects.toThrow(/plan has errors/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

const token = (name: string, networks: string[], quota: number, validity = '24h'): EnforcerToken => ({
  kind: 'enforcer_token',
  name,
  address: `enforcer_token.${name}`,
  namespace: '/t',
  lifecycle: { preventDestroy: false },
  roles: ['enforcer'],
  networks: networks.map((cidr) => ({ cidr, exclude: false })),
  quota,
  validity,
} as unknown as EnforcerToken);

describe('planTokens', () => {
  const now = new Date('2026-12-06T00:00:00Z');
  const live = (name: string, networks: string[], quota: number, validity = '24h', revoked = false): TokenRecord => {
    const r = newToken({ name: `enforcer_token.${name}`, namespace: '/t', networks, quota, validity }, now).record;
    return revoked ? { ...r, revokedAt: now.toISOString() } : r;
  };

  it('creates what is missing, updates changed terms in place, revokes removed ones, leaves equal ones', () => {
    const a = live('a', ['198.18.0.0/15'], 2);
    const b = live('b', ['198.18.0.0/15'], 2);
    const gone = live('gone', [], 0);
    const plans = planTokens([token('a', ['198.18.0.0/15'], 2), token('b', ['10.0.0.0/8'], 5, '48h'), token('c', [], 0)], ['enforcer_token.gone'], [a, b, gone]);
    expect(plans.map((p) => [p.address, p.action, p.id, p.changed])).toEqual([
      ['enforcer_token.a', 'noop', a.id, undefined],
      ['enforcer_token.b', 'update', b.id, ['networks', 'quota', 'validity']],
      ['enforcer_token.c', 'create', undefined, undefined],
      ['enforcer_token.gone', 'revoke', gone.id, undefined],
    ]);
  });

  it('a revoked token does not count: applying again makes a new one (rotation)', () => {
    const old = live('a', [], 0, '24h', true);
    expect(planTokens([token('a', [], 0)], [], [old]).map((p) => p.action)).toEqual(['create']);
  });
});

/** memoryControl: an in-memory ReconcileControl (unit tests only; test/pg proves the real one). */
function memoryControl() {
  const tokens: TokenRecord[] = [];
  const published = new Map<string, { etag: string; desired: unknown; publishedAt: string }>();
  const reports = new Map<string, { report: Record<string, unknown>; seenAt: string }>();
  const revoked: string[] = [];
  let n = 0;
  const control: ReconcileControl = {
    workspace: 'default',
    tokens: async () => tokens.map((t) => ({ ...t })),
    addToken: async (t) => void tokens.push(t),
    updateToken: async (id, terms) => {
      const t = tokens.find((x) => x.id === id);
      if (t) Object.assign(t, terms);
      return t;
    },
    revokeTokens: async (nameOrId, now) => {
      const ts = tokens.filter((t) => (t.id === nameOrId || t.name === nameOrId) && !t.revokedAt);
      for (const t of ts) t.revokedAt = now.toISOString();
      return ts.length;
    },
    publish: async (e, desired, now) => {
      const etag = `etag-${++n}`;
      published.set(e, { etag, desired, publishedAt: now.toISOString() });
      return etag;
    },
    ruleset: async (e) => published.get(e),
    reports: async () => [...reports].map(([enforcer, r]) => ({ enforcer, ...r })),
    revokeEnforcer: async (e) => {
      revoked.push(e);
      return ['1'];
    },
  };
  return { control, tokens, published, reports, revoked };
}

describe('plan and apply against a control store (in memory)', () => {
  it('plan shows an unreported agent and the rules it would publish; apply publishes, waits and fails in time, recording "published"', async () => {
    const dir = tmp({ 'main.hcl': AGENTS });
    try {
      const m = memoryControl();
      const store = new LocalStateStore(dir);
      const r = await planRun(dir, { store, control: m.control });
      expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
      const a1 = r.plan!.hosts.find((h) => h.enforcer === 'a1')!;
      expect(a1).toEqual(expect.objectContaining({ action: 'create', reachable: true, agent: expect.objectContaining({ published_etag: '', converged: false }) }));
      expect(a1.chains.length).toBeGreaterThan(0);
      expect(a1.transactions).toBeUndefined();
      expect(r.plan!.tokens).toEqual([expect.objectContaining({ action: 'create', address: 'enforcer_token.fleet' })]);
      const io = new BufferIo();
      renderPlanHuman(io, r.plan!);
      expect(io.stdout).toContain('enforcer a1 (nftables) will be published to its agent');
      expect(io.stdout).toContain('agent: has never reported');
      expect(io.stdout).toContain('+   enforcer_token.fleet: new token');
      expect(io.stdout).toContain('Tokens: 1 to create, 0 to update, 0 to revoke.');

      const tokenDir = path.join(dir, 'tok');
      // a1 answers (applied) for whatever is published; a2 never does.
      const answer = setInterval(() => {
        const p = m.published.get('a1');
        if (p) m.reports.set('a1', { report: { etag: p.etag, status: 'applied', live_fingerprint: 'fp-a1', drift: [] }, seenAt: new Date().toISOString() });
      }, 50);
      try {
        const result = await applyPlan(r.plan!, { store, control: m.control, tokenDir, waitTimeoutMs: 1500 });
        expect(result.ok).toBe(false);
        expect(result.hosts.map((h) => [h.enforcer, h.status])).toEqual([
          ['a1', 'applied'],
          ['a2', 'failed'],
        ]);
        expect(result.diagnostics.map((d) => [d.code, d.address])).toEqual([['MSEG9874', 'enforcer.a2']]);
        expect(result.tokens).toEqual([expect.objectContaining({ status: 'created', secret_file: expect.stringContaining(tokenDir) })]);
        const s = await store.load();
        expect(s!.hosts.a1).toEqual(expect.objectContaining({ status: 'applied', fingerprint: 'fp-a1' }));
        expect(s!.hosts.a2).toEqual(expect.objectContaining({ status: 'published', published: expect.objectContaining({ etag: m.published.get('a2')!.etag }) }));
        // Resource records wait for a complete run; the token is not made twice by the next one.
        expect(s!.resources).toEqual([]);
        const again = await planRun(dir, { store, control: m.control });
        expect(again.plan!.tokens).toEqual([expect.objectContaining({ action: 'noop' })]);
      } finally {
        clearInterval(answer);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
