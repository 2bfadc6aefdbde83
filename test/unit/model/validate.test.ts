import type { Diagnostic } from '../../../src/diagnostics';
import { validateConfig } from '../../../src/model/validate';
import { ENFORCER_CAPABILITY_VERSION } from '../../../src/version';
import { cfg, fleet, FILE, line, res } from './helpers';

const NOW = new Date('2027-01-01T00:00:00Z');
const run = (...rs: Parameters<typeof cfg>) => validateConfig(cfg(...rs), { now: NOW });
const errors = (ds: Diagnostic[]) => ds.filter((d) => d.severity === 'error');
const warnings = (ds: Diagnostic[]) => ds.filter((d) => d.severity === 'warning');
const codes = (ds: Diagnostic[]) => ds.map((d) => d.code);

/** only returns the single diagnostic of a run, failing with all of them otherwise. */
function only(ds: Diagnostic[]): Diagnostic {
  expect(ds).toHaveLength(1);
  return ds[0];
}

describe('validateConfig: valid configurations and defaults', () => {
  it('builds a model with every default', () => {
    const r = run(
      res('namespace', '/acme', {}),
      res('enforcer', 'web-1', { connection: { type: 'ssh', host: '10.0.0.5', user: 'root' } }, ['connection']),
      res('enforcer', 'a-local', { connection: { type: 'local' } }, ['connection']),
      res('enforcer_profile', 'default', {}),
      res('processing_unit', 'web', { enforcer: 'web-1', addresses: ['10.0.0.1/32'], tags: { app: 'web' }, namespace: '/acme' }),
      res('external_network', 'dns', { entries: ['8.8.8.8/32'] }),
      res('network_policy', 'p', { subject: 'app=web', object: [['$identity=externalnetwork']] }),
      res('enforcer_token', 't', { roles: ['enforcer'] }),
      res('expect', 'e', { from: 'web', to: 'dns', port: 'UDP/53', verdict: 'allow' }),
    );
    expect(r.diagnostics).toEqual([]);
    const m = r.model!;
    expect(m.namespaces).toEqual([
      expect.objectContaining({ name: '/acme', namespace: '/', defaultIncomingAction: 'reject', defaultOutgoingAction: 'reject' }),
    ]);
    expect(m.enforcers.map((e) => e.name)).toEqual(['a-local', 'web-1']);
    expect(m.enforcers[1]).toEqual({
      kind: 'enforcer',
      name: 'web-1',
      address: 'enforcer.web-1',
      namespace: '/',
      lifecycle: { preventDestroy: false },
      pos: { file: FILE, line: 101, column: 1 },
      connection: { type: 'ssh', host: '10.0.0.5', user: 'root', port: 22, strictHostKeyChecking: true },
      backend: 'auto',
      version: ENFORCER_CAPABILITY_VERSION,
      tags: [],
      ebpf: false,
      hostProtection: false,
    });
    expect(m.enforcerProfiles[0]).toMatchObject({ excludedNetworks: [], excludedInterfaces: [], failsafe: [] });
    expect(m.processingUnits[0]).toMatchObject({
      enforcer: 'web-1',
      addresses: ['10.0.0.1'],
      type: 'workload',
      tags: ['app=web'],
      namespace: '/acme',
      identity: ['$enforcer=web-1', '$identity=processingunit', '$name=web', '$namespace=/acme', 'app=web'],
    });
    expect(m.externalNetworks[0]).toMatchObject({ servicePorts: [], identity: ['$identity=externalnetwork', '$name=dns'] });
    expect(m.networkPolicies[0]).toMatchObject({
      action: 'allow',
      ports: [],
      applyPolicyMode: 'bidirectional',
      logsEnabled: false,
      observationEnabled: false,
      disabled: false,
      propagate: false,
      fallback: false,
      negateSubject: false,
      negateObject: false,
      timezone: 'UTC',
    });
    expect(m.networkPolicies[0].subject).toEqual([[{ key: 'app', op: 'eq', value: 'web', text: 'app=web' }]]);
    expect(m.networkPolicies[0]).not.toHaveProperty('expirationTime');
    expect(m.enforcerTokens[0]).toMatchObject({ roles: ['enforcer'], networks: [], quota: 0, validity: '24h' });
    expect(m.expects[0]).toMatchObject({ from: 'web', to: 'dns', port: 'udp/53', verdict: 'allow' });
  });

  it('keeps explicit values, lifecycle and outputs', () => {
    const raw = cfg(
      res(
        'enforcer',
        'e',
        {
          connection: { type: 'netns', netns: 'ns1' },
          backend: 'nftables',
          version: 'v3.11.2',
          tags: ['zone=a'],
          host_protection: true,
          profile: 'p',
          lifecycle: { prevent_destroy: true },
        },
        ['connection', 'lifecycle'],
      ),
      res('enforcer_profile', 'p', { excluded_networks: ['10.0.0.0/8', '!10.1.0.0/16'], excluded_interfaces: ['docker0', 'veth+'], failsafe: ['tcp/22'] }),
      res('processing_unit', 'h', { enforcer: 'e', type: 'host', addresses: ['2001:DB8::1'] }),
      res('network_policy', 'p', {
        subject: [['$name=h']],
        object: [['$name=h']],
        action: 'reject',
        ports: ['tcp/80', 'icmp/8/0'],
        apply_policy_mode: 'incoming',
        logs_enabled: true,
        observation_enabled: true,
        disabled: true,
        propagate: true,
        fallback: true,
        expiration_time: '2030-01-01T00:00:00Z',
        active_schedule: '0 9 * * 1-5',
        active_duration: '8h',
        timezone: 'europe/paris',
        description: 'why',
      }),
    );
    raw.outputs = { x: 1 };
    const r = validateConfig(raw, { now: NOW });
    expect(r.diagnostics).toEqual([]);
    const m = r.model!;
    expect(m.enforcers[0]).toMatchObject({
      connection: { type: 'netns', netns: 'ns1' },
      backend: 'nftables',
      version: '3.11.2',
      tags: ['zone=a'],
      hostProtection: true,
      profile: 'p',
      lifecycle: { preventDestroy: true },
    });
    expect(m.enforcerProfiles[0].excludedNetworks.map((e) => e.text)).toEqual(['10.0.0.0/8', '!10.1.0.0/16']);
    expect(m.enforcerProfiles[0].failsafe.map((p) => p.text)).toEqual(['tcp/22']);
    expect(m.processingUnits[0]).toMatchObject({ type: 'host', addresses: ['2001:db8::1'] });
    expect(m.networkPolicies[0]).toMatchObject({
      action: 'reject',
      applyPolicyMode: 'incoming',
      expirationTime: '2030-01-01T00:00:00Z',
      activeSchedule: '0 9 * * 1-5',
      activeDuration: '8h',
      timezone: 'Europe/Paris',
      description: 'why',
      fallback: true,
    });
    expect(m.networkPolicies[0].ports.map((p) => p.text)).toEqual(['tcp/80', 'icmp/8/0']);
    expect(m.outputs).toEqual({ x: 1 });
  });

  it('accepts a block written once as a one-element list', () => {
    const r = run(res('enforcer', 'e', { connection: [{ type: 'local' }], lifecycle: [{ prevent_destroy: true }] }, ['connection', 'lifecycle']));
    expect(r.diagnostics).toEqual([]);
    expect(r.model!.enforcers[0].lifecycle).toEqual({ preventDestroy: true });
  });

  it('sorts every resource list by name', () => {
    const r = run(
      res('enforcer', 'z', { connection: { type: 'netns', netns: 'z' } }),
      res('enforcer', 'B', { connection: { type: 'netns', netns: 'B' } }),
      res('enforcer', 'a', { connection: { type: 'local' } }),
    );
    expect(r.model!.enforcers.map((e) => e.name)).toEqual(['B', 'a', 'z']);
  });

  it('accepts the root namespace as a resource, for its default actions', () => {
    const r = run(res('namespace', '/', { default_incoming_action: 'allow' }));
    expect(r.diagnostics).toEqual([]);
    expect(r.model!.namespaces[0]).toMatchObject({ name: '/', namespace: '/', defaultIncomingAction: 'allow' });
  });
});

describe('validateConfig: unknown types, attributes and blocks', () => {
  it('reports an unknown resource type with did you mean', () => {
    const d = only(run(res('processing_units', 'x', {})).diagnostics);
    expect(d).toMatchObject({ severity: 'error', code: 'MSEG3001', summary: 'Unknown resource type "processing_units"', line: 1 });
    expect(d.detail).toMatch(/^Did you mean "processing_unit"\? microseg resources are: namespace, enforcer,/);
  });

  it('reports an unknown attribute with did you mean at its line', () => {
    const d = only(run(...fleet().slice(0, 1), res('processing_unit', 'web', { enforcer: 'web-1', adresses: ['10.0.0.1'] })).diagnostics);
    expect(d).toEqual({
      severity: 'error',
      code: 'MSEG3002',
      summary: 'Unknown attribute "adresses" in processing_unit "web"',
      detail: 'Did you mean "addresses"? processing_unit accepts: namespace, lifecycle, enforcer, addresses, tags, type, placement.',
      file: FILE,
      line: line(1, 1),
      column: 3,
    });
  });

  it('says "block" for an unknown nested block', () => {
    const d = only(run(res('enforcer', 'e', { connection: { type: 'local' }, lifecycel: { prevent_destroy: true } }, ['connection', 'lifecycel'])).diagnostics);
    expect(d.summary).toBe('Unknown block "lifecycel" in enforcer "e"');
    expect(d.detail).toMatch(/^Did you mean "lifecycle"\?/);
  });

  it('reports an unknown attribute inside connection, against that connection type', () => {
    const d = only(run(res('enforcer', 'e', { connection: { type: 'ssh', host: 'h', user: 'u', portt: 2222 } }, ['connection'])).diagnostics);
    expect(d).toMatchObject({
      code: 'MSEG3002',
      summary: 'Unknown attribute "portt" in the connection block',
      detail: 'Did you mean "port"? connection accepts: type, host, user, port, private_key_file, known_hosts_file, strict_host_key_checking, connect_timeout.',
      line: 50 + 3,
    });
  });

  it('reports ssh attributes on a local connection', () => {
    const d = only(run(res('enforcer', 'e', { connection: { type: 'local', host: 'h' } })).diagnostics);
    expect(d).toMatchObject({ code: 'MSEG3002', summary: 'Unknown attribute "host" in the connection block', detail: 'connection accepts: type.' });
  });

  it('reports unknown lifecycle attributes', () => {
    const d = only(run(res('enforcer_profile', 'p', { lifecycle: { prevent_destory: true } })).diagnostics);
    expect(d).toMatchObject({ code: 'MSEG3002', detail: 'Did you mean "prevent_destroy"? lifecycle accepts: prevent_destroy.' });
  });
});

describe('validateConfig: removed external_network attributes', () => {
  it('reports protocols + ports at the protocols line with the converted service_ports', () => {
    const r = run(res('external_network', 'dns', { entries: ['8.8.8.8/32'], protocols: ['tcp', 'udp'], ports: ['53'] }));
    const d = only(r.diagnostics);
    expect(d).toMatchObject({
      severity: 'error',
      code: 'MSEG3040',
      summary: 'Removed attributes "protocols" and "ports" in external_network "dns"',
      file: FILE,
      line: line(0, 1),
    });
    expect(d.detail).toContain('  service_ports = ["tcp/53", "udp/53"]');
    expect(d.detail).toContain('`microseg migrate`');
    expect(r.model).toBeUndefined();
  });

  it('reports ports alone at its line, defaulting protocols to tcp', () => {
    const d = only(run(res('external_network', 'web', { entries: ['1.2.3.0/24'], ports: ['80', '8000-8100'] })).diagnostics);
    expect(d).toMatchObject({ summary: 'Removed attribute "ports" in external_network "web"', line: line(0, 1) });
    expect(d.detail).toContain('Replace it with:\n  service_ports = ["tcp/80", "tcp/8000:8100"]');
  });

  it('reports protocols alone, defaulting ports to all', () => {
    const d = only(run(res('external_network', 'x', { entries: ['1.2.3.0/24'], protocols: [6, 'icmp'] })).diagnostics);
    expect(d.detail).toContain('service_ports = ["tcp/1:65535", "icmp"]');
  });

  it('explains when conversion is impossible', () => {
    const d = only(run(res('external_network', 'x', { entries: ['1.2.3.0/24'], protocols: ['tcp'], ports: ['{{ .port }}'] })).diagnostics);
    expect(d.detail).toContain('They cannot be converted automatically: port "{{ .port }}" is a template');
    expect(d.detail).toContain('microseg migrate');
  });

  it('notes an existing service_ports', () => {
    const d = only(run(res('external_network', 'x', { entries: ['1.2.3.0/24'], service_ports: ['tcp/80'], ports: ['80'] })).diagnostics);
    expect(d.detail).toContain('This block already sets service_ports');
  });

  it('is not a removed attribute on network_policy, where ports is current', () => {
    const r = run(...fleet(), res('network_policy', 'p', { subject: 'app=web', object: 'app=db', ports: ['tcp/80'] }));
    expect(r.diagnostics).toEqual([]);
  });
});

describe('validateConfig: shapes', () => {
  it('reports missing required attributes with an example', () => {
    const ds = run(res('processing_unit', 'web', {}), res('network_policy', 'p', { subject: 'a=b' })).diagnostics;
    expect(ds.map((d) => [d.code, d.summary, d.detail, d.line])).toEqual([
      ['MSEG3003', 'Missing required attribute "enforcer"', 'processing_unit "web" needs enforcer. For example: enforcer = "web-1"', 1],
      ['MSEG3003', 'Missing required attribute "object"', 'network_policy "p" needs object. For example: object = [["app=db", "env=prod"]]', 101],
    ]);
  });

  it('calls a missing connection a block', () => {
    const d = only(run(res('enforcer', 'e', {})).diagnostics);
    expect(d.summary).toBe('Missing required block "connection"');
  });

  it('reports wrong types', () => {
    const ds = run(res('enforcer', 'e', { connection: { type: 'local' }, ebpf: 'yes' }), res('network_policy', 'p', { subject: 'a=b', object: 'a=b', ports: ['tcp/80', 443] }))
      .diagnostics;
    expect(ds.map((d) => [d.code, d.summary, d.detail, d.line, d.column])).toEqual([
      ['MSEG3004', 'Wrong type for ebpf', '"ebpf" must be a bool (true or false), not the string "yes". For example: ebpf = false', line(0, 1), 3],
      ['MSEG3004', 'Wrong type for ports', 'Element 2 of "ports" must be a string, not the number 443. For example: ports = ["tcp/5432"]', line(1, 2), 30],
    ]);
  });

  it('reports a list written as a string', () => {
    const d = only(run(res('network_policy', 'p', { subject: 'a=b', object: 'a=b', ports: 'tcp/80' })).diagnostics);
    expect(d.detail).toBe('"ports" must be a list, not the string "tcp/80". For example: ports = ["tcp/5432"]');
  });

  it('reports invalid enum values with did you mean', () => {
    const ds = run(
      res('network_policy', 'p', { subject: 'a=b', object: 'a=b', action: 'alow', apply_policy_mode: 'both' }),
      res('enforcer', 'e', { connection: { type: 'local' }, backend: 'iptables' }),
    ).diagnostics;
    expect(ds.map((d) => [d.code, d.summary, d.detail])).toEqual([
      ['MSEG3005', 'Invalid value "alow" for "action"', 'Did you mean "allow"? action must be one of "allow", "reject", "continue".'],
      ['MSEG3005', 'Invalid value "both" for "apply_policy_mode"', 'apply_policy_mode must be one of "incoming", "outgoing", "bidirectional".'],
      ['MSEG3005', 'Invalid value "iptables" for "backend"', 'Did you mean "iptables-nft"? backend must be one of "auto", "nftables", "iptables-nft", "iptables-legacy".'],
    ]);
  });

  it('reports an invalid or missing connection type', () => {
    const ds = run(res('enforcer', 'a', { connection: { type: 'shh', host: 'h' } }), res('enforcer', 'b', { connection: {} })).diagnostics;
    expect(ds.map((d) => [d.code, d.summary, d.detail, d.line])).toEqual([
      ['MSEG3005', 'Invalid value "shh" for "connection.type"', 'Did you mean "ssh"? connection.type must be one of "local", "netns", "ssh", "agent".', 50],
      ['MSEG3003', 'Missing required attribute "connection.type"', 'Set it to one of "local", "netns", "ssh", "agent". For example: type = "local"', 102],
    ]);
  });

  it('refuses a netns name that ip would read as an option or a path', () => {
    const ds = run(
      res('enforcer', 'a', { connection: { type: 'netns', netns: '-n' } }),
      res('enforcer', 'b', { connection: { type: 'netns', netns: 'x/y' } }),
      res('enforcer', 'c', { connection: { type: 'netns', netns: 'web-1.prod_2' } }),
    ).diagnostics;
    expect(ds.map((d) => [d.code, d.summary, d.detail])).toEqual([
      ['MSEG3004', 'Invalid connection.netns', expect.stringMatching(/^must be a network namespace name: letters, digits, "_", "\." and "-", not starting with "-"/)],
      ['MSEG3004', 'Invalid connection.netns', expect.stringMatching(/^must be a network namespace name/)],
    ]);
  });

  it('reports ssh port range and empty strings', () => {
    const ds = run(res('enforcer', 'e', { connection: { type: 'ssh', host: '', user: 'u', port: 70000 } })).diagnostics;
    expect(ds.map((d) => [d.code, d.summary, d.detail])).toEqual([
      ['MSEG3006', 'Empty connection.host', 'connection.host must not be empty. For example: host = "10.0.0.5"'],
      ['MSEG3006', 'connection.port out of range', 'connection.port must be at most 65535, not 70000. For example: port = 22'],
    ]);
  });

  it('reports a non-integer quota and negative', () => {
    const ds = run(res('enforcer_token', 't', { roles: ['r'], quota: -1 }), res('enforcer_token', 'u', { roles: ['r'], quota: 1.5 })).diagnostics;
    expect(ds.map((d) => d.detail)).toEqual([
      'quota must be at least 0, not -1. For example: quota = 10',
      '"quota" must be a whole number, not the number 1.5. For example: quota = 10',
    ]);
  });

  it('reports a repeated single block', () => {
    const ds = run(res('enforcer', 'e', { connection: [{ type: 'local' }, { type: 'local' }] }, ['connection'])).diagnostics;
    expect(codes(ds)).toEqual(['MSEG3008']);
    expect(ds[0]).toMatchObject({ summary: 'Repeated connection block', column: 30 });
  });

  it('reports empty entries of an external network', () => {
    const d = only(run(res('external_network', 'x', { entries: [] })).diagnostics);
    expect(d).toMatchObject({ code: 'MSEG3006', summary: 'Empty entries' });
  });
});

describe('validateConfig: grammar diagnostics point at the element', () => {
  it('service ports', () => {
    const ds = run(...fleet(), res('network_policy', 'p', { subject: 'app=web', object: 'app=db', ports: ['tcp/80', 'tcp/80/90', 'TCP/80', 'any'] })).diagnostics;
    expect(ds.map((d) => [d.code, d.summary, d.detail, d.line, d.column])).toEqual([
      [
        'MSEG3010',
        'Invalid service port "tcp/80/90"',
        '"tcp/80/90" has more than one "/": a tcp service port is tcp/N or tcp/A:B, for example "tcp/80" or "tcp/8000:8100".',
        line(4, 2),
        30,
      ],
      ['MSEG3011', 'Conflicting service port "TCP/80" in ports', '"TCP/80" repeats "tcp/80" (entry 1): remove one of them.', line(4, 2), 40],
      [
        'MSEG3011',
        'Conflicting service port "any" in ports',
        '"any" must be the only service port, since it already allows every protocol and port: remove "any" or the other entries.',
        line(4, 2),
        50,
      ],
    ]);
  });

  it('service_ports of an external network, and failsafe "any"', () => {
    const ds = run(res('external_network', 'x', { entries: ['1.0.0.0/8'], service_ports: ['6/80'] }), res('enforcer_profile', 'p', { failsafe: ['any'] })).diagnostics;
    expect(ds.map((d) => [d.code, d.summary])).toEqual([
      ['MSEG3010', 'Invalid service port "6/80"'],
      ['MSEG3012', '"any" is not a failsafe port'],
    ]);
  });

  it('tag expressions and object tags', () => {
    const ds = run(
      res('enforcer', 'e', { connection: { type: 'local' }, tags: ['$name=x'] }),
      res('processing_unit', 'pu', { enforcer: 'e', tags: { 'a b': 'c' } }),
      res('network_policy', 'p', { subject: [['app=web', 'app']], object: [[]] }),
    ).diagnostics;
    expect(ds.map((d) => [d.code, d.summary, d.line, d.column])).toEqual([
      ['MSEG3021', 'Invalid tag', line(0, 1), 20],
      ['MSEG3021', 'Invalid tag', 150 + 10, 5],
      ['MSEG3020', 'Invalid subject', line(2, 0), 20],
      ['MSEG3020', 'Invalid object', line(2, 1), 20],
    ]);
    expect(ds[0].detail).toMatch(/^Tag "\$name=x" uses the reserved "\$" prefix/);
    expect(ds[2].detail).toMatch(/^"app" has no "="/);
    expect(ds[3].detail).toMatch(/^A clause is empty/);
  });

  it('CIDRs, exclusions and PU addresses', () => {
    const ds = run(
      res('enforcer', 'e', { connection: { type: 'local' } }),
      res('external_network', 'x', { entries: ['10.0.0.0/8', 'github.com', '!192.168.0.0/16', '10.1.2.3/8'] }),
      res('processing_unit', 'pu', { enforcer: 'e', addresses: ['10.0.0.0/24'] }),
      res('enforcer_token', 't', { roles: ['r'], networks: ['!10.0.0.0/8'] }),
    ).diagnostics;
    expect(ds.map((d) => [d.code, d.summary, d.column])).toEqual([
      ['MSEG3030', 'Invalid CIDR "github.com"', 30],
      ['MSEG3031', 'Invalid entry "!192.168.0.0/16" in entries', 40],
      ['MSEG3031', 'Invalid entry "10.1.2.3/8" in entries', 50],
      ['MSEG3032', 'Invalid address "10.0.0.0/24"', 20],
      ['MSEG3031', 'Invalid entry "!10.0.0.0/8" in networks', 20],
    ]);
    expect(ds[2].detail).toBe('"10.1.2.3/8" duplicates entry 1, "10.0.0.0/8" ("10.0.0.0/8" normalised): remove one of them.');
  });

  it('still checks grammars when the shape of the same resource is wrong', () => {
    const ds = run(res('network_policy', 'p', { subject: 'app', object: 'a=b', ports: ['tcp'], action: 'deny' })).diagnostics;
    expect(codes(ds).sort()).toEqual(['MSEG3005', 'MSEG3010', 'MSEG3020']);
  });
});

describe('validateConfig: names and references', () => {
  it('reports a duplicate name at the second, naming the first', () => {
    const ds = run(...fleet(), res('processing_unit', 'web', { enforcer: 'web-1', addresses: ['10.0.0.9'] })).diagnostics;
    const d = only(ds);
    expect(d).toMatchObject({ code: 'MSEG3007', summary: 'Duplicate processing_unit "web"', line: 401 });
    expect(d.detail).toBe(
      'processing_unit "web" is already declared at main.hcl:101. Names are unique per resource type: rename or remove one of them.',
    );
  });

  it('allows one name in different types', () => {
    expect(run(res('enforcer', 'x', { connection: { type: 'local' } }), res('processing_unit', 'x', { enforcer: 'x' })).diagnostics).toEqual([]);
  });

  it('reports an unknown enforcer with did you mean', () => {
    const d = only(run(...fleet().slice(0, 1), res('processing_unit', 'w', { enforcer: 'web-2' })).diagnostics);
    expect(d).toMatchObject({ code: 'MSEG3052', summary: 'Unknown enforcer "web-2"', line: line(1, 0) });
    expect(d.detail).toMatch(/^Did you mean "web-1"\? /);
  });

  it('reports an unknown profile with did you mean', () => {
    const d = only(run(res('enforcer', 'e', { connection: { type: 'local' }, profile: 'defualt' }), res('enforcer_profile', 'default', {})).diagnostics);
    expect(d).toMatchObject({ code: 'MSEG3053', summary: 'Unknown enforcer_profile "defualt"', line: line(0, 1) });
  });

  it('reports an address used by two PUs and twice in one', () => {
    const ds = run(
      ...fleet().slice(0, 2),
      res('processing_unit', 'b', { enforcer: 'web-1', addresses: ['10.0.0.1/32'] }),
      res('processing_unit', 'c', { enforcer: 'web-1', addresses: ['fd00::1', 'FD00:0::1'] }),
    ).diagnostics;
    expect(ds.map((d) => [d.code, d.summary, d.detail, d.line, d.column])).toEqual([
      [
        'MSEG3033',
        'Address 10.0.0.1 is used twice',
        '10.0.0.1 is already an address of processing_unit "web" (main.hcl:103). An address identifies one processing unit: remove it from one of them.',
        line(2, 1),
        20,
      ],
      ['MSEG3033', 'Address fd00::1 is used twice', 'fd00::1 is already listed at main.hcl:303; remove one of them.', line(3, 1), 30],
    ]);
  });

  it('checks namespaces: declared, parent from name, valid names', () => {
    const ds = run(
      res('namespace', '/acme', {}),
      res('namespace', '/acme/prod', { namespace: '/other' }),
      res('namespace', '/corp/dev', {}),
      res('namespace', 'acme', {}),
      res('enforcer', 'e', { connection: { type: 'local' }, namespace: '/acme/prd' }),
      res('namespace', '/', { namespace: '/acme' }),
    ).diagnostics;
    expect(ds.map((d) => [d.code, d.summary, d.line])).toEqual([
      ['MSEG3051', 'Namespace "/acme/prod" cannot be in "/other"', line(1, 0)],
      ['MSEG3050', 'Unknown namespace "/corp"', 201],
      ['MSEG3009', 'Invalid namespace name "acme"', 301],
      ['MSEG3050', 'Unknown namespace "/acme/prd"', line(4, 1)],
      ['MSEG3051', 'The root namespace has no parent', line(5, 0)],
    ]);
    expect(ds[3].detail).toMatch(/^Did you mean "\/acme\/prod"\? /);
    expect(ds[1].detail).toBe(
      'Declare it with namespace "/corp" { }, or use one of the declared namespaces ("/", "/acme", "/acme/prod", "/corp/dev").',
    );
    expect(only(run(res('enforcer', 'e', { connection: { type: 'local' }, namespace: '/x' })).diagnostics).detail).toBe(
      'Declare it with namespace "/x" { }, or leave namespace out to use the root namespace "/".',
    );
  });

  it('gives a PU its namespace in its identity', () => {
    const r = run(res('namespace', '/a', {}), res('enforcer', 'e', { connection: { type: 'local' } }), res('processing_unit', 'p', { enforcer: 'e', namespace: '/a' }));
    expect(r.model!.processingUnits[0].identity).toContain('$namespace=/a');
  });

  it('checks expect endpoints', () => {
    const ds = run(...fleet(), res('expect', 'x', { from: 'wbe', to: '10.9.9.9', port: 'tcp/1:2', verdict: 'allow' })).diagnostics;
    expect(ds.map((d) => [d.code, d.summary])).toEqual([
      ['MSEG3054', 'Unknown from "wbe" in expect "x"'],
      ['MSEG3012', 'expect port "tcp/1:2" is not one connection'],
    ]);
  });
});

describe('validateConfig: times, schedules and versions', () => {
  const pol = (extra: Record<string, string>) => res('network_policy', 'p', { subject: 'app=web', object: 'app=db', ...extra });
  const cases: Array<[string, Record<string, string>, string[]]> = [
    ['bad RFC 3339', { expiration_time: '2030-01-01 00:00' }, ['MSEG3061']],
    ['impossible date', { expiration_time: '2030-02-30T00:00:00Z' }, ['MSEG3061']],
    ['no zone', { expiration_time: '2030-01-01T00:00:00' }, ['MSEG3061']],
    ['offset zone', { expiration_time: '2030-01-01T00:00:00+01:00' }, []],
    ['bad cron', { active_schedule: 'every day', active_duration: '1h' }, ['MSEG3062']],
    ['seconds cron', { active_schedule: '0 0 9 * * 1-5', active_duration: '1h30m' }, []],
    ['schedule without duration', { active_schedule: '0 9 * * *' }, ['MSEG3065']],
    ['duration without schedule', { active_duration: '1h' }, ['MSEG3065']],
    ['bad duration', { active_schedule: '0 9 * * *', active_duration: '1d' }, ['MSEG3063']],
    ['zero duration', { active_schedule: '0 9 * * *', active_duration: '0m' }, ['MSEG3063']],
    ['bad timezone', { timezone: 'Mars/Olympus' }, ['MSEG3064']],
  ];
  it.each(cases)('%s', (_n, extra, want) => {
    expect(codes(errors(run(...fleet(), pol(extra)).diagnostics))).toEqual(want);
  });

  it('warns about an expired policy but returns the model', () => {
    const r = run(...fleet(), pol({ expiration_time: '2020-01-01T00:00:00Z' }));
    expect(codes(r.diagnostics)).toEqual(['MSEG3082']);
    expect(r.model).toBeDefined();
  });

  it('checks enforcer versions', () => {
    const d = only(run(res('enforcer', 'e', { connection: { type: 'local' }, version: '3.12' })).diagnostics);
    expect(d).toMatchObject({ code: 'MSEG3060', summary: 'Invalid version "3.12"' });
    expect(d.detail).toContain('for example "3.12.0"');
  });

  it('checks token validity and roles', () => {
    const ds = run(res('enforcer_token', 't', { roles: ['a', 'a', ''], validity: 'forever' })).diagnostics;
    expect(codes(ds)).toEqual(['MSEG3071', 'MSEG3006', 'MSEG3063']);
  });

  it('checks excluded interfaces', () => {
    const ds = run(res('enforcer_profile', 'p', { excluded_interfaces: ['eth0', 'eth0', 'a-very-long-interface-name', 'bad name'] })).diagnostics;
    expect(codes(ds)).toEqual(['MSEG3071', 'MSEG3070', 'MSEG3070']);
    // The kernel's 15 bytes hold the whole pattern, "+" included.
    expect(codes(run(res('enforcer_profile', 'p', { excluded_interfaces: ['abcdefghijklmn+', 'abcdefghijklmno+', '+'] })).diagnostics)).toEqual(['MSEG3070', 'MSEG3070']);
  });

  it('checks the interfaces of an expect: one concrete name each, and interface not with iif/oif', () => {
    let n = 0;
    const e = (o: object) => res('expect', `x${n++}`, { from: '10.0.0.1', to: '10.0.0.2', port: 'tcp/80', verdict: 'allow', ...o });
    const ok = run(e({ interface: 'eth0' }), e({ iif: 'eth1', oif: 'bond0.12' }));
    expect(ok.diagnostics).toEqual([]);
    expect(ok.model!.expects.map((x) => [x.interface, x.iif, x.oif])).toEqual([['eth0', undefined, undefined], [undefined, 'eth1', 'bond0.12']]);
    const bad = run(e({ interface: 'veth+' }), e({ iif: 'a b' }), e({ interface: 'eth0', oif: 'eth1' }));
    expect(codes(bad.diagnostics)).toEqual(['MSEG3070', 'MSEG3070', 'MSEG3075']);
    expect(bad.diagnostics[0].detail).toContain('not a pattern such as "veth+"');
  });
});

describe('validateConfig: warnings', () => {
  it('warns that ebpf is beta', () => {
    const r = run(res('enforcer', 'e', { connection: { type: 'local' }, ebpf: true }));
    expect(only(r.diagnostics)).toMatchObject({ severity: 'warning', code: 'MSEG3080', line: line(0, 1) });
    expect(r.model!.enforcers[0].ebpf).toBe(true);
  });

  it('warns about ssh without host key checking', () => {
    const r = run(res('enforcer', 'e', { connection: { type: 'ssh', host: 'h', user: 'u', strict_host_key_checking: false } }));
    expect(codes(r.diagnostics)).toEqual(['MSEG3084']);
  });


  it('warns when a subject or object matches nothing, with a did-you-mean for a near tag', () => {
    const r = run(...fleet(), res('network_policy', 'p', { subject: 'app=web', object: [['app=dbb'], ['app=web', 'env=prod']] }));
    const d = only(r.diagnostics);
    expect(d).toMatchObject({ severity: 'warning', code: 'MSEG3081', summary: 'network_policy "p": object matches nothing', line: line(4, 1) });
    expect(d.detail).toBe(
      'No processing unit or external network has an identity matching [["app=dbb"],["app=web","env=prod"]], so this policy has no effect. Did you mean "app=db" instead of "app=dbb"? Check the tags, or remove the policy.',
    );
    expect(r.model).toBeDefined();
  });

  it('does not warn when external networks, prefixes, presence or negations match', () => {
    const r = run(
      ...fleet(),
      res('network_policy', 'a', { subject: 'app=we*', object: 'ext=dns' }),
      res('network_policy', 'b', { subject: 'app=*', object: '$identity=externalnetwork' }),
      res('network_policy', 'c', { subject: 'app!=web', object: 'ext!=*' }),
      res('network_policy', 'd', { subject: 'app=nothing', negate_subject: true, object: '$name=web' }) as never,
    );
    expect(r.diagnostics).toEqual([]);
  });

  it('warns when a negated side excludes everything', () => {
    const r = run(...fleet(), res('network_policy', 'p', { subject: '$name=*', negate_subject: true, object: 'app=db' }) as never);
    expect(codes(r.diagnostics)).toEqual(['MSEG3081']);
    expect(r.diagnostics[0].detail).toContain('matching the negation of');
  });

  it('warns for neq terms that no identity satisfies', () => {
    const r = run(...fleet(), res('network_policy', 'p', { subject: 'ext!=dns', object: 'app=db' }));
    expect(codes(r.diagnostics)).toEqual(['MSEG3081']);
  });
});

describe('validateConfig: collecting', () => {
  it('collects every error across resources, sorted by position, and withholds the model', () => {
    const r = run(
      res('enforcr', 'x', {}),
      res('processing_unit', 'p', { enforcer: 'nope', addresses: ['bad'] }),
      res('external_network', 'n', { entries: ['1.2.3'], ports: ['80'] }),
      res('network_policy', 'q', { subject: 'a', object: 'b=c', ports: ['tcp/80/90'], action: 'deny' }),
    );
    expect(r.model).toBeUndefined();
    expect(codes(r.diagnostics)).toEqual(['MSEG3001', 'MSEG3052', 'MSEG3032', 'MSEG3030', 'MSEG3040', 'MSEG3020', 'MSEG3010', 'MSEG3005']);
    const lines = r.diagnostics.map((d) => d.line ?? 0);
    expect(lines).toEqual([...lines].sort((a, b) => a - b));
  });

  it('does not cascade: a broken enforcer is still a known name for its processing units', () => {
    const ds = run(res('enforcer', 'e', { connection: { type: 'bogus' } }), res('processing_unit', 'p', { enforcer: 'e' })).diagnostics;
    expect(codes(ds)).toEqual(['MSEG3005']);
  });

  it('skips match hints when identities are incomplete', () => {
    const ds = run(
      res('enforcer', 'e', { connection: { type: 'local' } }),
      res('processing_unit', 'p', { enforcer: 'e', tags: ['app='] }),
      res('network_policy', 'x', { subject: 'app=web', object: 'app=web' }),
    ).diagnostics;
    expect(codes(ds)).toEqual(['MSEG3021']);
  });

  it('withholds the model when the front end reported an error, without repeating it', () => {
    const raw = cfg(...fleet());
    raw.diagnostics = [{ severity: 'error', code: 'MSEG1001', summary: 'syntax' }];
    const r = validateConfig(raw);
    expect(r.model).toBeUndefined();
    expect(r.diagnostics).toEqual([]);
  });

  it('does not warn about matching when there are errors elsewhere only as warnings', () => {
    expect(warnings(run(...fleet()).diagnostics)).toEqual([]);
  });
});

describe('validateConfig: speed', () => {
  it('validates 10,000 policies and 500 PUs well under a second', () => {
    const rs: Parameters<typeof cfg> = [];
    for (let e = 0; e < 10; e++) rs.push(res('enforcer', `host-${e}`, { connection: { type: 'netns', netns: `b${e}` } }));
    for (let p = 0; p < 500; p++) {
      rs.push(
        res('processing_unit', `pu-${p}`, {
          enforcer: `host-${p % 10}`,
          addresses: [`198.18.${p >> 8}.${p & 255}`],
          tags: [`app=app-${p % 100}`, `tier=t${p % 3}`, 'env=prod'],
        }),
      );
    }
    for (let x = 0; x < 200; x++) {
      rs.push(res('external_network', `ext-${x}`, { entries: [`10.${x}.0.0/16`, `!10.${x}.128.0/24`], service_ports: ['tcp/443', 'udp/53'], tags: [`ext=e${x % 50}`] }));
    }
    for (let i = 0; i < 10000; i++) {
      rs.push(
        res('network_policy', `pol-${i}`, {
          subject: [[`app=app-${i % 100}`]],
          // a tenth select nothing, to exercise the slow path
          object: i % 10 === 0 ? [[`app=none-${i}`]] : [[`app=app-${(i * 7) % 100}`], [`tier=t${i % 3}`, 'env=prod']],
          action: i % 10 === 0 ? 'reject' : 'allow',
          ports: [`tcp/${1 + (i % 1000)}`, `udp/${2000 + (i % 100)}`],
        }),
      );
    }
    const raw = cfg(...rs);
    // Behaviour only: its time is bench item 4 (bench/compile-scale.ts), never asserted in a test.
    const r = validateConfig(raw);
    expect(errors(r.diagnostics)).toEqual([]);
    expect(warnings(r.diagnostics)).toHaveLength(1000);
    expect(r.model!.networkPolicies).toHaveLength(10000);
  });
});
