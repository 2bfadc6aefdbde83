import {
  App,
  Construct,
  Enforcer,
  EnforcerProfile,
  EnforcerToken,
  Expect,
  ExternalNetwork,
  Namespace,
  NetworkPolicy,
  Output,
  ProcessingUnit,
} from '../../../src';

/** lineHere returns the caller's line in this file, as the runtime's (source-mapped) stack says. */
function lineHere(): number {
  const frame = (new Error().stack ?? '').split('\n')[2];
  return Number(/:(\d+):\d+\)?$/.exec(frame)![1]);
}

describe('App.synth', () => {
  test('every resource type becomes a RawResource with snake_case keys, as HCL would produce', () => {
    const app = new App();
    const prod = new Namespace(app, '/acme/prod', { defaultIncomingAction: 'allow', description: 'prod' });
    const profile = new EnforcerProfile(app, 'default', { namespace: prod, excludedNetworks: ['10.0.0.0/8'], failsafe: ['tcp/22'], hostFailsafeInbound: ['tcp/22'], hostFailsafeOutbound: [] });
    const host = new Enforcer(app, 'web-1', {
      namespace: prod,
      profile,
      hostProtection: true,
      connection: { type: 'ssh', host: '198.18.0.1', user: 'root', privateKeyFile: '/k', strictHostKeyChecking: false },
      lifecycle: { preventDestroy: true },
    });
    const web = new ProcessingUnit(app, 'web', { enforcer: host, addresses: ['198.18.1.10'], type: 'host' });
    const dns = new ExternalNetwork(app, 'dns', { entries: ['198.19.53.0/24'], servicePorts: ['udp/53'] });
    new NetworkPolicy(app, 'web-dns', {
      subject: [['app=web']],
      object: [['kind=dns']],
      applyPolicyMode: 'outgoing',
      negateObject: false,
      expirationTime: new Date(Date.UTC(2030, 0, 2, 3, 4, 5)),
      activeSchedule: undefined,
    });
    new EnforcerToken(app, 't', { roles: ['enforcer'], quota: 3 });
    new Expect(app, 'web-reaches-dns', { from: web, to: dns, port: 'udp/53', verdict: 'allow' });
    new Output(app, 'hosts', { value: [host, 'x', { someKey: 1 }] });

    const cfg = app.synth();
    expect(cfg.diagnostics).toEqual([]);
    expect(cfg.outputs).toEqual({ hosts: ['web-1', 'x', { some_key: 1 }] });
    expect(cfg.resources.map((r) => [r.type, r.name, r.address, r.body, r.blockKeys])).toEqual([
      ['namespace', '/acme/prod', 'namespace./acme/prod', { default_incoming_action: 'allow', description: 'prod' }, undefined],
      [
        'enforcer_profile',
        'default',
        'enforcer_profile.default',
        { namespace: '/acme/prod', excluded_networks: ['10.0.0.0/8'], failsafe: ['tcp/22'], host_failsafe_inbound: ['tcp/22'], host_failsafe_outbound: [] },
        undefined,
      ],
      [
        'enforcer',
        'web-1',
        'enforcer.web-1',
        {
          namespace: '/acme/prod',
          profile: 'default',
          host_protection: true,
          connection: { type: 'ssh', host: '198.18.0.1', user: 'root', private_key_file: '/k', strict_host_key_checking: false },
          lifecycle: { prevent_destroy: true },
        },
        ['connection', 'lifecycle'],
      ],
      ['processing_unit', 'web', 'processing_unit.web', { enforcer: 'web-1', addresses: ['198.18.1.10'], type: 'host' }, undefined],
      ['external_network', 'dns', 'external_network.dns', { entries: ['198.19.53.0/24'], service_ports: ['udp/53'] }, undefined],
      [
        'network_policy',
        'web-dns',
        'network_policy.web-dns',
        {
          subject: [['app=web']],
          object: [['kind=dns']],
          apply_policy_mode: 'outgoing',
          negate_object: false,
          expiration_time: '2030-01-02T03:04:05.000Z',
        },
        undefined,
      ],
      ['enforcer_token', 't', 'enforcer_token.t', { roles: ['enforcer'], quota: 3 }, undefined],
      ['expect', 'web-reaches-dns', 'expect.web-reaches-dns', { from: 'web', to: 'dns', port: 'udp/53', verdict: 'allow' }, undefined],
    ]);
  });

  test('references by object and by name synthesise identically', () => {
    const build = (byObject: boolean) => {
      const app = new App();
      const ns = new Namespace(app, '/n');
      const h = new Enforcer(app, 'h', { namespace: byObject ? ns : '/n', connection: { type: 'local' } });
      new ProcessingUnit(app, 'p', { namespace: byObject ? ns : '/n', enforcer: byObject ? h : 'h', addresses: [] });
      return app.synth().resources.map((r) => ({ type: r.type, name: r.name, body: r.body }));
    };
    expect(build(true)).toEqual(build(false));
  });

  test('positions are where the user called `new X(...)`, for the resource and every attribute', () => {
    const app = new App();
    const pu = new ProcessingUnit(app, 'web', { enforcer: 'h', addresses: ['198.18.1.10'] }); const line = lineHere();
    const [res] = app.synth().resources;
    expect(pu.declaredAt).toMatchObject({ file: __filename, line });
    expect(res.pos).toEqual(pu.declaredAt);
    expect(res.positions).toEqual({ '': res.pos, enforcer: res.pos, addresses: res.pos });
  });

  test('resources inside the user\'s own constructs are found, in construction order', () => {
    class Pair extends Construct {
      constructor(scope: Construct, id: string) {
        super(scope, id);
        new Enforcer(this, `${id}-host`, { connection: { type: 'local' } });
        new ProcessingUnit(this, id, { enforcer: `${id}-host`, addresses: [] });
      }
    }
    const app = new App();
    new Pair(app, 'a');
    new Namespace(app, '/z');
    new Pair(app, 'b');
    expect(app.synth().resources.map((r) => r.address)).toEqual([
      'enforcer.a-host',
      'processing_unit.a',
      'namespace./z',
      'enforcer.b-host',
      'processing_unit.b',
    ]);
  });

  test('the same name may be used by different types but not twice by one type', () => {
    const app = new App();
    new Enforcer(app, 'web', { connection: { type: 'local' } });
    new ProcessingUnit(app, 'web', { enforcer: 'web', addresses: [] });
    const group = new Construct(app, 'group');
    expect(() => new ProcessingUnit(group, 'web', { enforcer: 'web', addresses: [] })).toThrow(
      'Duplicate processing_unit "web": another processing_unit already has this name',
    );
  });

  test('resources outside an App are refused at construction', () => {
    const root = new Construct(undefined as unknown as Construct, '');
    expect(() => new Namespace(root, '/x')).toThrow('must be created inside an App');
  });

  test('values with no configuration equivalent are diagnostics at the declaration, not exceptions', () => {
    const app = new App();
    const bad = { tags: [NaN as unknown as string], addresses: [new Map() as unknown as string] };
    new ProcessingUnit(app, 'p', { enforcer: 'h', ...bad }); const line = lineHere();
    const cfg = app.synth();
    expect(cfg.diagnostics.map((d) => [d.code, d.summary, d.line])).toEqual([
      ['MSEG4101', 'Invalid value for "tags.0" of processing_unit.p', line],
      ['MSEG4101', 'Invalid value for "addresses.0" of processing_unit.p', line],
    ]);
    expect(cfg.resources[0].body).toEqual({ enforcer: 'h' });
  });
});
