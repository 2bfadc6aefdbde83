/**
 * The sandbox's pure parts: the topology planned from a model (namespaces, addresses, external
 * stand-ins, listeners), the listener command line, the probe error classification, the live
 * report views, and the CLI's refusal without root. The real-kernel half is test/netns/sandbox.test.ts.
 */
import * as fs from 'fs';
import * as path from 'path';
import { loadAndValidate } from '../../../src/cli/commands/common';
import { hostSyncDiagnostics, liveJson, renderLiveHuman } from '../../../src/cli/commands/sandbox';
import { BufferIo } from '../../../src/cli/io';
import { main } from '../../../src/cli/main';
import type { Model } from '../../../src/model/types';
import { classifyError, planSandbox, socatArgs, type LiveReport } from '../../../src/sandbox';
import { runTmpDir } from '../../support/tmp';

const QUICKSTART = path.resolve(__dirname, '../../../examples/quickstart');

async function model(dir: string): Promise<Model> {
  const { model: m, diagnostics } = await loadAndValidate(dir, {});
  const errors = diagnostics.filter((d) => d.severity === 'error');
  if (!m || errors.length) throw new Error(`invalid test config: ${JSON.stringify(errors)}`);
  return m;
}

function hclDir(text: string): string {
  const dir = runTmpDir('mseg-sbx-unit-');
  fs.writeFileSync(path.join(dir, 'main.hcl'), text);
  return dir;
}

const HOSTS = (conn2 = 'connection {\n type = "netns"\n netns = "n2"\n}') => `
enforcer "h1" {
  connection {
    type  = "netns"
    netns = "n1"
  }
}
enforcer "h2" {
  ${conn2}
}
processing_unit "a" {
  enforcer  = "h1"
  addresses = ["198.18.1.1", "2001:2::1"]
  tags      = ["app=a"]
}
processing_unit "b" {
  enforcer  = "h2"
  addresses = ["198.18.2.1"]
  tags      = ["app=b"]
}
`;

describe('planSandbox', () => {
  it('lays out the quickstart: three enforcer namespaces, PU addresses as /15, external stand-ins, listeners', async () => {
    const { plan, diagnostics } = planSandbox(await model(QUICKSTART));
    expect(diagnostics).toEqual([]);
    expect(plan).toBeDefined();
    const p = plan!;
    expect(p.bridge).toEqual({ netns: 'mseg-sbx-br', device: 'br0' });
    expect(p.hosts.map((h) => [h.enforcer, h.netns, h.bridgePort, h.addresses.map((a) => `${a.address}/${a.prefixLen} ${a.pu}`)])).toEqual([
      ['api-1', 'mseg-api-1', 'sbx0', ['198.18.2.10/15 api']],
      ['db-1', 'mseg-db-1', 'sbx1', ['198.18.3.10/15 db']],
      ['web-1', 'mseg-web-1', 'sbx2', ['198.18.1.10/15 web']],
    ]);
    // dns keeps the trace's representative (first address of 198.19.53.0/24); internet's would be
    // 0.0.0.0, which no host can hold, so a documentation address the network admits stands in.
    expect(p.external?.netns).toBe('mseg-sbx-ext');
    expect(p.external?.bridgePort).toBe('sbx3');
    expect(p.external?.addresses.map((a) => [a.address, a.networks])).toEqual([
      ['198.19.53.0', ['dns']],
      ['203.0.113.1', ['internet']],
    ]);
    expect(p.external?.addresses[1].note).toMatch(/0\.0\.0\.0 cannot be a host's address; 203\.0\.113\.1 is a documentation address/);
    expect(p.ports).toEqual(['tcp/22', 'tcp/80', 'tcp/443', 'tcp/5432', 'tcp/8080', 'tcp/8101', 'udp/53', 'udp/123']);
    // every port on every PU address and every external address: 8 ports x (3 + 2)
    expect(p.listeners).toHaveLength(40);
    expect(p.listeners).toContainEqual({ netns: 'mseg-db-1', address: '198.18.3.10', family: 4, protocol: 'tcp', port: 5432, banner: 'microseg-sandbox db tcp/5432' });
    expect(p.listeners).toContainEqual({ netns: 'mseg-sbx-ext', address: '198.19.53.0', family: 4, protocol: 'udp', port: 53, banner: 'microseg-sandbox dns udp/53' });
  });

  it('is deterministic (same digest) and follows the prefix option', async () => {
    const m = await model(QUICKSTART);
    expect(planSandbox(m).plan!.digest).toBe(planSandbox(m).plan!.digest);
    const other = planSandbox(m, { prefix: 'mst1-sbx' }).plan!;
    expect(other.bridge.netns).toBe('mst1-sbx-br');
    expect(other.external?.netns).toBe('mst1-sbx-ext');
    expect(other.digest).not.toBe(planSandbox(m).plan!.digest);
  });

  it('gives IPv6 addresses a /48 and an IPv6 stand-in when a PU has IPv6', async () => {
    const m = await model(
      hclDir(`${HOSTS()}
external_network "world" {
  entries = ["0.0.0.0/0", "::/0"]
}
expect "a-out6" {
  from = "a"
  to = "world"
  port = "tcp/443"
  verdict = "reject"
}
`),
    );
    const { plan, diagnostics } = planSandbox(m);
    expect(diagnostics).toEqual([]);
    expect(plan!.hosts[0].addresses).toEqual([
      { address: '198.18.1.1', family: 4, prefixLen: 15, pu: 'a' },
      { address: '2001:2::1', family: 6, prefixLen: 48, pu: 'a' },
    ]);
    expect(plan!.external!.addresses.map((a) => a.address)).toEqual(['203.0.113.1', '2001:db8::1']);
    expect(plan!.listeners.filter((l) => l.family === 6).map((l) => `${l.netns} ${l.address}`)).toEqual(['n1 2001:2::1', 'mseg-sbx-ext 2001:db8::1']);
  });

  it('takes the first usable admitted address when no documentation address is admitted, and puts bare addresses an expect names outside', async () => {
    const m = await model(
      hclDir(`${HOSTS()}
external_network "lan" {
  entries = ["0.0.0.0/5"]
}
expect "a-lan" {
  from = "a"
  to = "lan"
  port = "udp/53"
  verdict = "reject"
}
expect "a-bare" {
  from = "a"
  to = "198.51.100.7"
  port = "tcp/80"
  verdict = "reject"
}
`),
    );
    const ext = planSandbox(m).plan!.external!;
    expect(ext.addresses.map((a) => [a.address, a.networks])).toEqual([
      ['198.51.100.7', []],
      ['1.0.0.0', ['lan']],
    ]);
    expect(ext.addresses[1].note).toMatch(/first usable address/);
  });

  it('gives a network of PU addresses only no stand-in (live tests send to the PUs themselves), and a network around PUs a non-PU one', async () => {
    const { plan, diagnostics } = planSandbox(
      await model(
        hclDir(`${HOSTS()}
external_network "only-b" {
  entries = ["198.18.2.1/32"]
}
external_network "around-b" {
  entries = ["198.18.2.0/31"]
}
expect "a-only-b" {
  from = "a"
  to = "only-b"
  port = "tcp/80"
  verdict = "reject"
}
expect "a-around-b" {
  from = "a"
  to = "around-b"
  port = "tcp/80"
  verdict = "reject"
}
`),
      ),
    );
    expect(diagnostics).toEqual([]);
    expect(plan!.external!.addresses.map((a) => [a.address, a.networks])).toEqual([['198.18.2.0', ['around-b']]]);
  });

  it('refuses PU addresses outside the sandbox ranges and namespace clashes, and warns about non-netns enforcers', async () => {
    const outside = planSandbox(await model(hclDir(HOSTS().replace('198.18.2.1', '10.0.0.2'))));
    expect(outside.plan).toBeUndefined();
    expect(outside.diagnostics).toEqual([
      expect.objectContaining({ severity: 'error', code: 'MSEG9501', summary: 'Processing unit "b" has address 10.0.0.2, outside the sandbox range 198.18.0.0/15' }),
    ]);
    // Validation refuses two enforcers on one namespace (MSEG3093, at both); the sandbox keeps its
    // own check for models that did not come through validation.
    const refused = await loadAndValidate(hclDir(HOSTS('connection {\n type = "netns"\n netns = "n1"\n}')), {});
    expect(refused.diagnostics.filter((d) => d.severity === 'error').map((d) => d.code)).toEqual(['MSEG3093', 'MSEG3093']);
    const valid = await model(hclDir(HOSTS()));
    const clash = planSandbox({ ...valid, enforcers: valid.enforcers.map((e) => (e.name === 'h2' ? { ...e, connection: { type: 'netns' as const, netns: 'n1' } } : e)) });
    expect(clash.plan).toBeUndefined();
    expect(clash.diagnostics[0]).toMatchObject({ code: 'MSEG9502', summary: expect.stringContaining('enforcer "h1" uses too') });
    const reserved = planSandbox(await model(hclDir(HOSTS('connection {\n type = "netns"\n netns = "mseg-sbx-br"\n}'))));
    expect(reserved.diagnostics[0]).toMatchObject({ code: 'MSEG9502', summary: expect.stringContaining('the sandbox reserves') });
    const local = planSandbox(await model(hclDir(HOSTS('connection {\n type = "local"\n}'))));
    expect(local.plan!.hosts.map((h) => h.enforcer)).toEqual(['h1']);
    expect(local.diagnostics).toEqual([expect.objectContaining({ severity: 'warning', code: 'MSEG9503' })]);
  });
});

describe('listener and probe helpers', () => {
  it('binds each listener to its address and answers the banner before reading the request', () => {
    expect(socatArgs({ netns: 'n', address: '198.18.1.1', family: 4, protocol: 'tcp', port: 22, banner: 'microseg-sandbox a tcp/22' })).toEqual([
      '-T', '5', '-t', '5', 'TCP4-LISTEN:22,bind=198.18.1.1,fork,reuseaddr', 'SYSTEM:echo microseg-sandbox a tcp/22; read -r _',
    ]);
    expect(socatArgs({ netns: 'n', address: '2001:2::1', family: 6, protocol: 'udp', port: 53, banner: 'b' })).toEqual([
      '-T', '5', '-t', '5', 'UDP6-RECVFROM:53,bind=[2001:2::1],fork,ipv6only=1', 'SYSTEM:echo b; read -r _',
    ]);
  });

  it('classifies the clients\' errors', () => {
    expect(classifyError('socat[1] E connect(5, AF=2 198.18.1.1:80, 16): Connection refused')).toBe('refused');
    expect(classifyError('socat[1] E connecting to AF=2 198.18.1.1:81: Connection timed out')).toBe('timeout');
    expect(classifyError('socat[1] E write(5, 0x1, 3): Operation not permitted')).toBe('denied');
    expect(classifyError('From 198.18.1.1 icmp_seq=1 Destination Port Unreachable')).toBe('unreachable');
    expect(classifyError('something else')).toBeUndefined();
  });
});

describe('test --live views', () => {
  const report: LiveReport = {
    pass: false,
    hosts: [
      { enforcer: 'h1', netns: 'n1', in_sync: true, backend: 'nftables' },
      { enforcer: 'h2', netns: 'n2', in_sync: false, detail: 'its nftables/iptables-nft read-back differs from the compiled rules' },
    ],
    bugs: ['x: offline trace says reject, the kernel says allow (connected) for tcp/80 198.18.1.1 → 198.18.2.1'],
    results: [
      {
        name: 'x', from: 'a', to: 'b', port: 'tcp/80', expected: 'reject', offline: 'reject', live: 'allow', outcome: 'connected', detail: 'microseg-sandbox b tcp/80',
        checkable: true, agree: false, pass: false,
        packet: { family: 4, protocol: 'tcp', src: '198.18.1.1', dst: '198.18.2.1', src_netns: 'n1', dst_netns: 'n2', dport: 80 },
      },
      {
        name: 'y', from: 'a', to: 'b', port: 'tcp/22', expected: 'allow', offline: 'allow', live: 'allow', outcome: 'connected', detail: '',
        checkable: true, agree: true, pass: true,
        packet: { family: 4, protocol: 'tcp', src: '198.18.1.1', dst: '198.18.2.1', src_netns: 'n1', dst_netns: 'n2', dport: 22 },
      },
      { name: 'z', from: 'b', to: 'a', port: 'icmp/0/0', expected: 'reject', offline: 'reject', live: null, outcome: 'not checkable', detail: 'ICMP type 0 code 0 cannot be sent', checkable: false, agree: null, pass: true },
    ],
  };

  it('renders the table with BUG and SKIP lines and a summary; a host out of sync is a warning diagnostic', () => {
    const io = new BufferIo();
    renderLiveHuman(io, report);
    expect(io.stdout).not.toMatch(/warning/);
    expect(hostSyncDiagnostics(report)).toEqual([
      expect.objectContaining({ severity: 'warning', code: 'MSEG9521', summary: expect.stringMatching(/^Host h2 \(netns n2\) does not hold the compiled rules/), address: 'enforcer.h2' }),
    ]);
    expect(io.stdout).toMatch(/^NAME\s+FROM → TO\s+PORT\s+EXPECTED\s+OFFLINE\s+LIVE\s+KERNEL\s+RESULT/);
    expect(io.stdout).toMatch(/x\s+a → b\s+tcp\/80\s+reject\s+reject\s+ALLOWED\s+connected \(198\.18\.1\.1 → 198\.18\.2\.1\)\s+BUG/);
    expect(io.stdout).toMatch(/z\s+b → a\s+icmp\/0\/0\s+reject\s+reject\s+-\s+not checkable live\s+SKIP/);
    expect(io.stdout).toContain('\nBUG x: offline trace says reject, the kernel says allow');
    expect(io.stdout).toContain('\nSKIP z: ICMP type 0 code 0 cannot be sent');
    expect(io.stdout).toContain('2 checked live: 1 passed, 1 failed, 1 disagrees with the offline trace; 1 not checkable live.');
  });

  it('prints a JSON document with counts, bugs, hosts and results', () => {
    const doc = JSON.parse(liveJson(report));
    expect(doc).toMatchObject({ pass: false, agree: false, checked: 2, not_checkable: 1, failed: 1 });
    expect(doc.bugs).toHaveLength(1);
    expect(doc.results.map((r: { name: string }) => r.name)).toEqual(['x', 'y', 'z']);
  });
});

describe('without root', () => {
  afterEach(() => jest.restoreAllMocks());

  it.each([['sandbox', 'up'], ['sandbox', 'down'], ['test', '--live']])('microseg %s %s says why and exits 1', async (...args) => {
    jest.spyOn(process, 'getuid').mockReturnValue(1000);
    const io = new BufferIo();
    const code = await main(['node', 'microseg', ...args, QUICKSTART], io);
    expect(code).toBe(1);
    expect(io.stderr).toMatch(/needs root.*\[MSEG9510\]/);
    expect(io.stdout).toBe('');
  });
});
