/**
 * Two enforcers on one host (issue 10 item 4): the same netns, the same ssh host and port after
 * normalisation, or both `local`, would each own microseg's table and chains on that host, and
 * every apply of one wiped the other's rules. Validation refuses it with an error at EVERY
 * declaration of the group (file:line:column each), naming the others; both front ends.
 */
import * as path from 'path';
import { evaluateHcl } from '../../../src/config/hcl';
import { hostKey, type Connection } from '../../../src/hosts/connection';
import { validateConfig } from '../../../src/model/validate';
import { runPipeline } from '../../../src/pipeline';

const ssh = (host: string, port = 22, user = 'root'): Connection => ({ type: 'ssh', host, user, port, strictHostKeyChecking: true });

describe('hostKey', () => {
  it.each([
    [ssh('Web-1.Example.COM.'), ssh('web-1.example.com')],
    [ssh('2001:DB8:0:0::7'), ssh('2001:db8::7')],
    [ssh('::ffff:198.51.100.7'), ssh('198.51.100.7')],
    [ssh('198.51.100.7', 22, 'root'), ssh('198.51.100.7', 22, 'deploy')],
    [{ type: 'local' }, { type: 'local' }],
    [{ type: 'netns', netns: 'blue' }, { type: 'netns', netns: 'blue' }],
  ] as Array<[Connection, Connection]>)('%j and %j are one host', (a, b) => {
    expect(hostKey(a)).toBe(hostKey(b));
  });
  it.each([
    [ssh('198.51.100.7', 22), ssh('198.51.100.7', 2222)],
    [ssh('web-1'), ssh('web-2')],
    [{ type: 'netns', netns: 'blue' }, { type: 'netns', netns: 'Blue' }],
    [{ type: 'local' }, { type: 'netns', netns: 'local' }],
    [ssh('fe80::1%eth0'), ssh('fe80::1%eth1')],
  ] as Array<[Connection, Connection]>)('%j and %j are different hosts', (a, b) => {
    expect(hostKey(a)).not.toBe(hostKey(b));
  });
});

const HCL = `enforcer "a" {
  connection {
    type  = "netns"
    netns = "blue"
  }
}
enforcer "b" {
  connection {
    type  = "netns"
    netns = "blue"
  }
}
enforcer "c" {
  connection {
    type = "ssh"
    host = "WEB-1.example.com."
    user = "root"
  }
}
enforcer "d" {
  connection {
    type = "ssh"
    host = "web-1.example.com"
    user = "deploy"
    port = 22
  }
}
enforcer "e" {
  connection {
    type = "local"
  }
}
enforcer "f" {
  connection {
    type = "local"
  }
}
enforcer "g" {
  connection {
    type = "ssh"
    host = "web-1.example.com"
    user = "root"
    port = 2222
  }
}
enforcer "h" {
  connection {
    type  = "netns"
    netns = "green"
  }
}
`;

const errs = (ds: ReturnType<typeof validateConfig>['diagnostics']) =>
  ds.filter((d) => d.severity === 'error').map((d) => `${d.code} enforcer.${/^Enforcer "([^"]+)"/.exec(d.summary)?.[1]} ${path.basename(d.file ?? '')}:${d.line}:${d.column}`);
const of = (ds: ReturnType<typeof validateConfig>['diagnostics'], name: string) => ds.filter((d) => d.summary.startsWith(`Enforcer "${name}" `));

describe('validate: two enforcers on one host', () => {
  it('HCL: an error at both declarations of each pair (netns, ssh after normalisation, local), none for distinct hosts', () => {
    const raw = evaluateHcl([{ name: 'hosts.hcl', text: HCL }], {});
    expect(raw.diagnostics).toEqual([]);
    const v = validateConfig(raw);
    expect(errs(v.diagnostics)).toEqual([
      'MSEG3093 enforcer.a hosts.hcl:4:13',
      'MSEG3093 enforcer.b hosts.hcl:10:13',
      'MSEG3093 enforcer.c hosts.hcl:16:12',
      'MSEG3093 enforcer.d hosts.hcl:23:12',
      'MSEG3093 enforcer.e hosts.hcl:30:12',
      'MSEG3093 enforcer.f hosts.hcl:35:12',
    ]);
    const a = of(v.diagnostics, 'a')[0];
    expect(a.summary).toBe('Enforcer "a" reaches the same host as enforcer "b" (netns blue)');
    expect(a.detail).toMatch(/^enforcer "b" is declared at hosts\.hcl:10\. Each host is programmed by one enforcer/);
    const d = of(v.diagnostics, 'd')[0];
    expect(d.summary).toBe('Enforcer "d" reaches the same host as enforcer "c" (ssh deploy@web-1.example.com:22)');
    expect(d.detail).toMatch(/enforcer "c" is declared at hosts\.hcl:16/);
  });

  it('three on one host: each names the other two', () => {
    const text = ['x', 'y', 'z'].map((n) => `enforcer "${n}" {\n  connection {\n    type = "local"\n  }\n}\n`).join('');
    const v = validateConfig(evaluateHcl([{ name: 'three.hcl', text }], {}));
    const y = of(v.diagnostics, 'y');
    expect(y).toHaveLength(1);
    expect(y[0].summary).toBe('Enforcer "y" reaches the same host as enforcer "x", enforcer "z" (local)');
    expect(v.diagnostics.filter((d) => d.code === 'MSEG3093')).toHaveLength(3);
  });

  it('TypeScript: the same at both `connection` lines of main.ts', async () => {
    const dir = path.resolve(__dirname, '../../fixtures/same-host-ts');
    const r = await runPipeline(dir);
    expect(r.stage).toBe('validate');
    expect(errs(r.diagnostics)).toEqual([
      'MSEG3093 enforcer.a main.ts:4:55',
      'MSEG3093 enforcer.b main.ts:6:32',
      'MSEG3093 enforcer.c main.ts:8:53',
      'MSEG3093 enforcer.d main.ts:9:53',
    ]);
  });
});
