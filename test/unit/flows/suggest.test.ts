/**
 * microseg suggest: flow records → tag-based allow policies + one expect per flow. The core is
 * pure (grouping by shared tags, port merging, determinism, unsuggestable flows); the command is
 * run in process on a real configuration directory, and its file is read back by the real HCL
 * front end and checked with `microseg validate` and `microseg test`.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BufferIo } from '../../../src/cli/io';
import { main } from '../../../src/cli/main';
import { compile } from '../../../src/compile';
import type { FlowRecord } from '../../../src/flows/records';
import { connectionPort, observationOff, suggest, type Suggestion } from '../../../src/flows/suggest';
import { renderSuggestionHcl } from '../../../src/flows/suggest-hcl';
import { readFlowRecords } from '../../../src/flows/suggest-input';
import { runPipeline } from '../../../src/pipeline';
import type { Model } from '../../../src/model/types';

async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = new BufferIo();
  const code = await main(['node', 'microseg', ...args], io);
  return { code, out: io.stdout, err: io.stderr };
}

/** Two web replicas, two api replicas, a db, a batch job and an untagged PU, all env=prod; two networks. */
function config(observation: boolean, extra = ''): string {
  const pu = (name: string, addr: string, tags: string[], ns = '/t') =>
    `processing_unit "${name}" {\n  namespace = "${ns}"\n  enforcer = "h-${name}"\n  addresses = ["${addr}"]\n  tags = [${tags.map((t) => `"${t}"`).join(', ')}]\n}\nenforcer "h-${name}" {\n  namespace = "${ns}"\n  backend = "nftables"\n  connection {\n    type = "netns"\n    netns = "x-${name}"\n  }\n}\n`;
  return [
    `namespace "/t" {\n  observation_enabled = ${observation}\n  logs_enabled = true\n}\n`,
    pu('web-1', '198.18.1.1', ['app=web', 'env=prod', 'tier=front']),
    pu('web-2', '198.18.1.2', ['app=web', 'env=prod', 'tier=front']),
    pu('api-1', '198.18.2.1', ['app=api', 'env=prod']),
    pu('api-2', '198.18.2.2', ['app=api', 'env=prod']),
    pu('db', '198.18.3.1', ['app=db', 'env=prod']),
    pu('batch', '198.18.4.1', ['app=batch', 'env=prod', 'tier=front']),
    pu('lone', '198.18.5.1', []),
    `external_network "internet" {\n  namespace = "/t"\n  entries = ["0.0.0.0/0", "!198.18.0.0/15"]\n  service_ports = ["tcp/443"]\n}\n`,
    `external_network "office" {\n  namespace = "/t"\n  entries = ["203.0.113.0/24"]\n}\n`,
    `network_policy "ping" {\n  namespace = "/t"\n  subject = [["env=prod"]]\n  object = [["env=prod"]]\n  ports = ["icmp/8"]\n}\n`,
    extra,
  ].join('\n');
}

let seq = 0;
function rec(src: string, dst: string, port: number | undefined, verdict: FlowRecord['verdict'] = 'would-reject', more: Partial<FlowRecord> = {}): FlowRecord {
  seq++;
  return {
    time: `2026-12-06T04:${String(10 + (seq % 40)).padStart(2, '0')}:00.000000`,
    enforcer: 'h',
    direction: 'outgoing',
    src,
    dst,
    protocol: 'tcp',
    ...(port !== undefined ? { port } : {}),
    verdict,
    policy: 'default of namespace /t',
    default: true,
    ...more,
  };
}

const OBSERVED: FlowRecord[] = [
  // both web replicas call both api replicas on 8000 and 8001 (twice: both enforcers log)
  ...['198.18.1.1', '198.18.1.2'].flatMap((w) => ['198.18.2.1', '198.18.2.2'].flatMap((a) => [rec(w, a, 8000), rec(w, a, 8000, 'would-reject', { direction: 'incoming' }), rec(w, a, 8001)])),
  // batch calls the api on the same ports: a second source role of the same destination + ports
  rec('198.18.4.1', '198.18.2.1', 8000),
  rec('198.18.4.1', '198.18.2.1', 8001),
  // the api replicas reach the db on 5432
  rec('198.18.2.1', '198.18.3.1', 5432),
  rec('198.18.2.2', '198.18.3.1', 5432),
  // web reaches the internet on 443; the office reaches web on 443
  rec('198.18.1.1', '93.184.216.34', 443),
  rec('203.0.113.9', '198.18.1.2', 443, 'would-reject', { direction: 'incoming' }),
  // the untagged PU calls db
  rec('198.18.5.1', '198.18.3.1', 5432),
  // ping is already allowed by a policy
  rec('198.18.1.1', '198.18.3.1', 8, 'allow', { protocol: 'icmp', policy: '/t network_policy.ping', default: false }),
  // unsuggestable: an unknown address (inside the excluded range, so no network admits it), a port the network does not serve
  rec('198.18.9.9', '198.18.3.1', 5432),
  rec('198.18.1.1', '93.184.216.34', 80),
  // rejected by the default in enforcement: left out unless --include-rejected
  rec('198.18.3.1', '198.18.1.1', 22, 'reject'),
];

async function loadModel(dir: string): Promise<Model> {
  const p = await runPipeline(dir, { compile: false });
  expect(p.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return p.model!;
}

function suggestFor(model: Model, records: readonly FlowRecord[], opts = {}): Suggestion {
  return suggest(records, model, compile(observationOff(model), { now: new Date() }).rulesets, opts);
}

describe('suggest (pure core)', () => {
  let dir: string;
  let model: Model;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mseg-suggest-unit-'));
    fs.writeFileSync(path.join(dir, 'main.hcl'), config(true));
    model = await loadModel(dir);
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('groups by the tags the identities on each side share, merges sources of one destination and consecutive ports', () => {
    const s = suggestFor(model, OBSERVED);
    const byName = new Map(s.policies.map((p) => [p.name, p] as const));
    // web and batch share env=prod and tier=front, which select only them: the subject is that
    // common tag set; the object is the api replicas' tags. 2 web × 2 api × 2 ports + batch's 2.
    expect(byName.get('allow-prod-front-to-api-prod')).toMatchObject({
      namespace: '/t', subject: [['env=prod', 'tier=front']], object: [['app=api', 'env=prod']], ports: ['tcp/8000:8001'], apply_policy_mode: 'bidirectional', flows: 10, widened: { subject: [], object: [] },
    });
    // the api replicas and the untagged PU reach the db on the same port: one policy, one clause per
    // role (their only common tag would be none), the untagged PU by its name; never one rule per address.
    expect(byName.get('allow-lone-or-api-prod-to-db-prod')).toMatchObject({
      subject: [['$identity=processingunit', '$name=lone'], ['app=api', 'env=prod']], object: [['app=db', 'env=prod']], ports: ['tcp/5432'], flows: 3,
    });
    // a network by its declared name, and only on the PU's side.
    expect(byName.get('allow-web-prod-front-to-internet')).toMatchObject({ subject: [['app=web', 'env=prod', 'tier=front']], object: [['$identity=externalnetwork', '$name=internet']], apply_policy_mode: 'outgoing', ports: ['tcp/443'] });
    expect(byName.get('allow-office-to-web-prod-front')).toMatchObject({ subject: [['$identity=externalnetwork', '$name=office']], apply_policy_mode: 'incoming' });
    expect(s.policies).toHaveLength(4);
  });

  it('names a side by one clause per role when the shared tags would select an unobserved PU', () => {
    // web and db share only env=prod, which also selects the api, batch: one clause per role instead.
    const s = suggestFor(model, [rec('198.18.1.1', '198.18.5.1', 9000), rec('198.18.3.1', '198.18.5.1', 9000)]);
    expect(s.policies).toHaveLength(1);
    expect(s.policies[0].subject).toEqual([['app=db', 'env=prod'], ['app=web', 'env=prod', 'tier=front']]);
    expect(s.policies[0].object).toEqual([['$identity=processingunit', '$name=lone']]);
    // the web replica that was not seen is covered (same tags: no expression tells replicas apart) and reported.
    expect(s.policies[0].widened.subject).toEqual(['web-2']);
  });

  it('keeps ports that are not consecutive apart and different port sets in different policies', () => {
    const s = suggestFor(model, [rec('198.18.1.1', '198.18.3.1', 80), rec('198.18.1.1', '198.18.3.1', 443), rec('198.18.1.1', '198.18.3.1', 81), rec('198.18.1.1', '198.18.3.1', 53, 'would-reject', { protocol: 'udp' }), rec('198.18.1.1', '198.18.2.1', 80)]);
    const toDb = s.policies.find((p) => p.object[0].includes('app=db'))!;
    expect(toDb.ports).toEqual(['tcp/80:81', 'tcp/443', 'udp/53']);
    const toApi = s.policies.find((p) => p.object[0].includes('app=api'))!;
    expect(toApi.ports).toEqual(['tcp/80']);
  });

  it('is deterministic: the same records in any order give the same suggestion and the same bytes', () => {
    const a = suggestFor(model, OBSERVED);
    const shuffled = [...OBSERVED].reverse();
    shuffled.push(shuffled.shift()!);
    const b = suggestFor(model, shuffled);
    expect(b).toEqual(a);
    expect(renderSuggestionHcl(b, 'f')).toBe(renderSuggestionHcl(a, 'f'));
  });

  it('lists flows it cannot express, with reasons, and never invents an identity', () => {
    const s = suggestFor(model, OBSERVED);
    expect(s.unsuggestable.map((u) => [u.src, u.dst, u.port, u.reason])).toEqual([
      ['198.18.9.9', '198.18.3.1', 5432, expect.stringContaining('source 198.18.9.9 is no processing unit')],
      ['198.18.1.1', '93.184.216.34', 80, expect.stringContaining("internet's service_ports do not include tcp/80")],
    ]);
    expect(JSON.stringify(s.policies)).not.toContain('198.18.9.9');
    // neither end a PU
    expect(suggestFor(model, [rec('203.0.113.1', '93.184.216.34', 443)]).unsuggestable[0].reason).toMatch(/neither end is a processing unit/);
    // a protocol number without a name
    expect(connectionPort('253', undefined)).toEqual({ problem: expect.stringContaining('253') });
    expect(connectionPort('icmpv6', 128)).toEqual({ port: 'icmp6/128', protocol: 'icmp6', number: 128 });
  });

  it('leaves out default-rejected flows unless asked, flags them when included, and never overrides a reject policy', () => {
    const s = suggestFor(model, OBSERVED);
    expect(s.skipped).toEqual([expect.objectContaining({ src: '198.18.3.1', dst: '198.18.1.1', port: 22, reason: expect.stringContaining('--include-rejected') })]);
    const withRejected = suggestFor(model, OBSERVED, { includeRejected: true });
    const p = withRejected.policies.find((x) => x.ports.includes('tcp/22'))!;
    expect(p.from_rejected).toBe(true);
    expect(withRejected.flows.find((f) => f.port === 'tcp/22')).toMatchObject({ rejected_by_default: true });
    const byPolicy = suggestFor(model, [rec('198.18.1.1', '198.18.3.1', 23, 'reject', { policy: '/t network_policy.no', default: false })]);
    expect(byPolicy.skipped[0].reason).toMatch(/rejected by \/t network_policy.no/);
    expect(byPolicy.policies).toEqual([]);
  });

  it('suggests no policy for a flow the configuration already allows, but still pins it with an expect', () => {
    const s = suggestFor(model, OBSERVED);
    const ping = s.flows.find((f) => f.port === 'icmp/8')!;
    expect(ping.covered_by).toEqual({ kind: 'existing', decided_by: expect.stringContaining('ping') });
    expect(s.expects.find((e) => e.port === 'icmp/8')).toMatchObject({ from: 'web-1', to: 'db', verdict: 'allow' });
    // one expect per distinct flow (both enforcers' records count once); networks named by an address.
    expect(s.expects).toHaveLength(s.flows.length);
    expect(s.expects.filter((e) => e.from === 'web-1' && e.to === 'api-1' && e.port === 'tcp/8000')).toHaveLength(1);
    expect(s.expects.find((e) => e.port === 'tcp/443' && e.from === 'web-1')).toMatchObject({ to: '93.184.216.34' });
  });

  it('uses only records since --since', () => {
    const old = rec('198.18.1.1', '198.18.3.1', 7000, 'would-reject', { time: '2026-12-06T01:00:00.000000' });
    const fresh = rec('198.18.1.1', '198.18.3.1', 7001, 'would-reject', { time: '2026-12-06T04:30:00+0000' });
    const s = suggestFor(model, [old, fresh], { since: new Date('2026-12-06T04:00:00Z') });
    expect(s.records).toEqual({ read: 2, used: 1, before_since: 1 });
    expect(s.policies[0].ports).toEqual(['tcp/7001']);
  });
});

describe('readFlowRecords', () => {
  const good = { time: 't', enforcer: 'h', direction: 'outgoing', src: '198.18.1.1', dst: '198.18.2.1', protocol: 'tcp', port: 80, verdict: 'allow', policy: 'p', default: false };

  it('reads the flows document, a bare array and --follow lines', () => {
    expect(readFlowRecords('f', JSON.stringify({ format_version: 1, hosts: [], records: [good, good] }, null, 2)).records).toHaveLength(2);
    expect(readFlowRecords('f', JSON.stringify([good]))).toEqual({ records: [expect.objectContaining({ src: '198.18.1.1', port: 80 })], diagnostics: [] });
    expect(readFlowRecords('f', `${JSON.stringify(good)}\n\n${JSON.stringify(good)}\n`).records).toHaveLength(2);
  });

  it('points at the line and column of bad JSON and of each bad record, all at once', () => {
    const doc = JSON.stringify({ format_version: 1, hosts: [], records: [good, { ...good, verdict: 'maybe' }, { ...good, src: undefined }] }, null, 2);
    const r = readFlowRecords('flows.json', doc);
    expect(r.diagnostics).toHaveLength(2);
    const lines = doc.split('\n');
    for (const d of r.diagnostics) {
      expect(d).toMatchObject({ severity: 'error', code: 'MSEG9741', file: 'flows.json' });
      expect(lines[d.line! - 1][d.column! - 1]).toBe('{');
    }
    expect(r.diagnostics[0].summary).toMatch(/"verdict" is "maybe"/);
    expect(r.diagnostics[1].summary).toMatch(/no "src"/);

    const jl = `${JSON.stringify(good)}\n${JSON.stringify(good).slice(0, 30)}\n`;
    expect(readFlowRecords('f.jsonl', jl).diagnostics).toEqual([expect.objectContaining({ code: 'MSEG9740', file: 'f.jsonl', line: 2 })]);
    expect(readFlowRecords('f', '{"records": [1,').diagnostics).toEqual([expect.objectContaining({ code: 'MSEG9740', line: 1 })]);
    expect(readFlowRecords('f', ' \n').diagnostics).toEqual([expect.objectContaining({ code: 'MSEG9742' })]);
    expect(readFlowRecords('f', '{"diagnostics": []}').diagnostics[0].summary).toMatch(/failed run/);
  });
});

describe('microseg suggest (command, round trip through the HCL front end)', () => {
  let dir: string;
  let flowsFile: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mseg-suggest-cmd-'));
    fs.writeFileSync(path.join(dir, 'main.hcl'), config(true));
    flowsFile = path.join(dir, '..', `${path.basename(dir)}-flows.json`);
    fs.writeFileSync(flowsFile, JSON.stringify({ format_version: 1, hosts: [], records: OBSERVED }, null, 2));
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(flowsFile, { force: true });
  });

  it('writes a file that validates with the configuration, whose expectations pass once audit mode is off, and that turns each flow into an allow', async () => {
    // Before: with audit mode off, the observed flows are rejected.
    fs.writeFileSync(path.join(dir, 'main.hcl'), config(false));
    const before = await run('trace', dir, '--from', 'web-1', '--to', 'api-1', '--port', 'tcp/8000', '--json');
    expect(JSON.parse(before.out)).toMatchObject({ verdict: 'reject' });
    fs.writeFileSync(path.join(dir, 'main.hcl'), config(true));

    const r = await run('suggest', dir, '--from-flows', flowsFile);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const file = path.join(dir, 'suggested.mseg.hcl');
    expect(r.out).toContain(`Wrote ${file}`);
    expect(r.out).toMatch(/Unsuggestable \(2\):/);
    expect(r.out).toMatch(/198\.18\.9\.9 → 198\.18\.3\.1\(db\) tcp\/5432 .*no processing unit/);
    const text = fs.readFileSync(file, 'utf8');
    expect(text).toContain('network_policy "allow-lone-or-api-prod-to-db-prod" {');
    expect(text).toContain('  subject     = [["$identity=processingunit", "$name=lone"], ["app=api", "env=prod"]]');

    expect((await run('validate', dir)).code).toBe(0);
    fs.writeFileSync(path.join(dir, 'main.hcl'), config(false));
    const t = await run('test', dir, '--json');
    const results = JSON.parse(t.out) as { results?: Array<{ pass: boolean }> } | Array<{ pass: boolean }>;
    const list = Array.isArray(results) ? results : (results.results ?? []);
    expect(list.length).toBe(16);
    expect(list.every((x) => x.pass)).toBe(true);
    expect(t.code).toBe(0);
    const after = await run('trace', dir, '--from', 'web-2', '--to', 'api-2', '--port', 'tcp/8001', '--json');
    expect(JSON.parse(after.out)).toMatchObject({ verdict: 'allow' });
    // unobserved: still refused
    const other = await run('trace', dir, '--from', 'web-1', '--to', 'api-1', '--port', 'tcp/8002', '--json');
    expect(JSON.parse(other.out)).toMatchObject({ verdict: 'reject' });
  });

  it('refuses to overwrite without --force, and says why in JSON too', async () => {
    expect((await run('suggest', dir, '--from-flows', flowsFile)).code).toBe(0);
    const again = await run('suggest', dir, '--from-flows', flowsFile, '--json');
    expect(again.code).toBe(1);
    expect(JSON.parse(again.out).diagnostics).toEqual([expect.objectContaining({ code: 'MSEG9744' })]);
    const forced = await run('suggest', dir, '--from-flows', flowsFile, '--force', '--json');
    expect(forced.code).toBe(0);
    const doc = JSON.parse(forced.out) as Suggestion & { file: string; verified: { expects: number; passed: number } };
    expect(doc.file).toBe(path.join(dir, 'suggested.mseg.hcl'));
    expect(doc.verified).toEqual({ expects: 16, passed: 16 });
    expect(doc.unsuggestable).toHaveLength(2);
    expect(doc.skipped).toHaveLength(1);
  });

  it('reports bad input with positions, empty input, an unknown enforcer, a bad --since and a missing source', async () => {
    fs.writeFileSync(flowsFile, '{"records": [\n  {"src": "198.18.1.1"}\n]}\n');
    const bad = await run('suggest', dir, '--from-flows', flowsFile);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain(`${flowsFile}:2:3`);
    expect(bad.err).toContain('MSEG9741');
    fs.writeFileSync(flowsFile, JSON.stringify({ format_version: 1, hosts: [], records: [] }));
    expect((await run('suggest', dir, '--from-flows', flowsFile)).err).toContain('MSEG9742');
    expect((await run('suggest', dir, '--enforcer', 'nope')).err).toContain('MSEG9743');
    expect((await run('suggest', dir, '--from-flows', flowsFile, '--since', 'yesterday')).err).toContain('MSEG9745');
    expect((await run('suggest', dir)).err).toContain('MSEG9746');
    expect(fs.existsSync(path.join(dir, 'suggested.mseg.hcl'))).toBe(false);
  });

  it('writes nothing and exits 1 when no flow can be suggested, listing why', async () => {
    fs.writeFileSync(flowsFile, JSON.stringify([rec('198.18.9.9', '198.18.3.1', 5432)]));
    const r = await run('suggest', dir, '--from-flows', flowsFile);
    expect(r.code).toBe(1);
    expect(r.err).toContain('MSEG9752');
    expect(r.out).toMatch(/Unsuggestable \(1\)/);
    expect(fs.existsSync(path.join(dir, 'suggested.mseg.hcl'))).toBe(false);
  });
});
