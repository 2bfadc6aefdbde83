import { inspectDocument, inspectJson } from '../../../src/model/inspect';
import { validateConfig } from '../../../src/model/validate';
import type { Model } from '../../../src/model/types';
import { cfg, res } from './helpers';

function model(...rs: Parameters<typeof cfg>): Model {
  const r = validateConfig(cfg(...rs), { now: new Date('2027-01-01T00:00:00Z') });
  expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return r.model!;
}

const base = (): Parameters<typeof cfg> => [
  res('namespace', '/acme', { description: 'Acme' }),
  res('enforcer', 'web-1', { connection: { type: 'ssh', host: 'h', user: 'root' }, tags: { zone: 'a' } }),
  res('processing_unit', 'web', { enforcer: 'web-1', addresses: ['10.0.0.1/32'], tags: ['app=web'], namespace: '/acme' }),
  res('external_network', 'dns', { entries: ['8.8.8.8/32', '2001:DB8::/32'], service_ports: ['UDP/53'], tags: ['ext=dns'] }),
  res('network_policy', 'web-dns', { subject: 'app=web', object: ['ext=dns'], ports: ['udp/53'] }),
];

describe('inspectJson', () => {
  it('prints the canonical document', () => {
    expect(inspectJson(model(...base()))).toBe(
      `${JSON.stringify(
        {
          format_version: '1',
          resources: [
            {
              type: 'enforcer',
              name: 'web-1',
              namespace: '/',
              attributes: {
                connection: {
                  type: 'ssh',
                  host: 'h',
                  user: 'root',
                  port: 22,
                  private_key_file: null,
                  known_hosts_file: null,
                  strict_host_key_checking: true,
                  connect_timeout: 10,
                },
                backend: 'auto',
                version: '3.14.0',
                tags: ['zone=a'],
                ebpf: false,
                host_protection: false,
                profile: null,
                lifecycle: { prevent_destroy: false },
              },
            },
            {
              type: 'external_network',
              name: 'dns',
              namespace: '/',
              attributes: {
                entries: ['8.8.8.8/32', '2001:db8::/32'],
                service_ports: ['udp/53'],
                tags: ['ext=dns'],
                identity: ['$identity=externalnetwork', '$name=dns', 'ext=dns'],
                lifecycle: { prevent_destroy: false },
              },
            },
            {
              type: 'namespace',
              name: '/acme',
              namespace: '/',
              attributes: {
                description: 'Acme',
                default_incoming_action: 'reject',
                default_outgoing_action: 'reject',
                logs_enabled: false,
                observation_enabled: false,
                lifecycle: { prevent_destroy: false },
              },
            },
            {
              type: 'network_policy',
              name: 'web-dns',
              namespace: '/',
              attributes: {
                description: null,
                subject: [['app=web']],
                object: [['ext=dns']],
                negate_subject: false,
                negate_object: false,
                action: 'allow',
                ports: ['udp/53'],
                apply_policy_mode: 'bidirectional',
                logs_enabled: false,
                observation_enabled: false,
                disabled: false,
                propagate: false,
                fallback: false,
                expiration_time: null,
                active_schedule: null,
                active_duration: null,
                timezone: 'UTC',
                lifecycle: { prevent_destroy: false },
              },
            },
            {
              type: 'processing_unit',
              name: 'web',
              namespace: '/acme',
              attributes: {
                enforcer: 'web-1',
                type: 'workload',
                addresses: ['10.0.0.1'],
                tags: ['app=web'],
                identity: ['$enforcer=web-1', '$identity=processingunit', '$name=web', '$namespace=/acme', 'app=web'],
                lifecycle: { prevent_destroy: false },
              },
            },
          ],
          outputs: {},
        },
        null,
        2,
      )}\n`,
    );
  });

  it('is identical whatever order and spelling the front end used', () => {
    const a = base();
    const b = [...base()].reverse();
    b[b.length - 1 - 3] = res('external_network', 'dns', { entries: ['8.8.8.8/32', '2001:db8:0::1/32'], service_ports: ['udp/53'], tags: { ext: 'dns' } });
    const ma = model(...a);
    const mb = model(...b);
    ma.outputs = { b: 1, a: { y: [1, { d: 1, c: 2 }], x: null } };
    mb.outputs = { a: { x: null, y: [1, { c: 2, d: 1 }] }, b: 1 };
    expect(inspectJson(mb)).toBe(inspectJson(ma));
    expect(Object.keys(inspectDocument(ma).outputs)).toEqual(['a', 'b']);
  });

  it('never includes positions or addresses', () => {
    const text = inspectJson(model(...base()));
    expect(text).not.toContain('main.hcl');
    expect(text).not.toContain('"address"');
    expect(text).not.toContain('"kind"');
    expect(text).not.toContain('"pos"');
  });

  it('renders every resource type', () => {
    const doc = inspectDocument(
      model(
        res('enforcer', 'e', { connection: { type: 'netns', netns: 'n' }, profile: 'p' }),
        res('enforcer_profile', 'p', { excluded_networks: ['10.0.0.0/8', '!10.1.0.0/16'], failsafe: ['tcp/22'] }),
        res('processing_unit', 'a', { enforcer: 'e' }),
        res('enforcer_token', 't', { roles: ['enforcer'], networks: ['10.0.0.0/8'], quota: 3 }),
        res('expect', 'x', { from: 'a', to: '10.0.0.9', port: 'TCP/443', verdict: 'reject', lifecycle: { prevent_destroy: true } }),
      ),
    );
    expect(doc.resources.map((r) => `${r.type}.${r.name}`)).toEqual([
      'enforcer.e',
      'enforcer_profile.p',
      'enforcer_token.t',
      'expect.x',
      'processing_unit.a',
    ]);
    expect(doc.resources[0].attributes.connection).toEqual({ type: 'netns', netns: 'n' });
    expect(doc.resources[1].attributes).toEqual({
      excluded_networks: ['10.0.0.0/8', '!10.1.0.0/16'],
      excluded_interfaces: [],
      failsafe: ['tcp/22'],
      lifecycle: { prevent_destroy: false },
    });
    expect(doc.resources[2].attributes).toEqual({ roles: ['enforcer'], networks: ['10.0.0.0/8'], quota: 3, validity: '24h', lifecycle: { prevent_destroy: false } });
    expect(doc.resources[3].attributes).toEqual({
      from: 'a', to: '10.0.0.9', port: 'tcp/443', verdict: 'reject', interface: null, iif: null, oif: null, lifecycle: { prevent_destroy: true },
    });
  });
});
