/**
 * ssh connection attributes are checked in validation, at their own line, with a hint (issue 10
 * item 7): `host` is a host name or IP address and never an ssh option or shell text, `user` is a
 * POSIX user name, `port` is 1–65535, and `connect_timeout` is whole seconds (default 10). Before,
 * `host = "-oProxyCommand=…"` and `user = "$(id)"` passed validate and failed only at plan time as
 * "unreachable" with no position. Both front ends (HCL, TypeScript) are checked through the
 * pipeline every command runs.
 */
import * as path from 'path';
import { sshHostProblem, sshUserProblem } from '../../../src/hosts/connection';
import { runPipeline } from '../../../src/pipeline';
import { evaluateHcl } from '../../../src/config/hcl';
import { validateConfig } from '../../../src/model/validate';

const fixture = (name: string) => path.resolve(__dirname, '../../fixtures', name);
const at = (ds: Array<{ severity: string; code: string; file?: string; line?: number; column?: number }>) =>
  ds.filter((d) => d.severity === 'error').map((d) => `${d.code} ${path.basename(d.file ?? '')}:${d.line}:${d.column}`);

describe('sshHostProblem', () => {
  it.each(['web-1', 'web-1.example.com', 'db_2.internal', 'example.com.', '198.51.100.7', '2001:db8::7', 'fe80::1%eth0', '::1'])('accepts %s', (h) => {
    expect(sshHostProblem(h)).toBeUndefined();
  });
  it.each([
    ['', /empty/],
    ['-oProxyCommand=touch /tmp/x', /starts with "-"/],
    ['-p2222', /starts with "-"/],
    ['root@web-1', /user = "root"/],
    ['web-1:2222', /port = 2222/],
    ['web 1', /contains " "/],
    ['$(id)', /contains "\$"/],
    ['web;reboot', /contains ";"/],
    ['`id`', /contains "`"/],
    ['a%h', /contains "%"/],
    ['ssh://web-1', /contains ":"/],
    ['web..example.com', /empty label/],
    ['-web.example.com', /starts with "-"/],
    ['web-.example.com', /label "web-"/],
    ['fe80::1%$(id)', /contains/],
    ['a'.repeat(64) + '.com', /label/],
  ])('refuses %j', (h, why) => {
    expect(sshHostProblem(h)).toMatch(why);
  });
});

describe('sshUserProblem', () => {
  it.each(['root', 'deploy', 'svc.mseg', 'a_b-c', '_ci'])('accepts %s', (u) => expect(sshUserProblem(u)).toBeUndefined());
  it.each([
    ['', /empty/],
    ['$(id)', /contains "\$"/],
    ['-oProxyCommand=x', /starts with "-"/],
    ['a b', /contains " "/],
    ['root@h', /contains "@"/],
    ['x'.repeat(33), /longer than 32/],
  ])('refuses %j', (u, why) => expect(sshUserProblem(u)).toMatch(why));
});

describe('validate: ssh attributes at their own line', () => {
  it('HCL: host, user, port and connect_timeout each at their line, with hints, all in one run', async () => {
    const r = await runPipeline(fixture('ssh-connection-hcl'));
    expect(r.stage).toBe('validate');
    expect(at(r.diagnostics)).toEqual([
      'MSEG3090 main.hcl:5:12',
      'MSEG3091 main.hcl:6:12',
      'MSEG3006 main.hcl:7:12',
      'MSEG3090 main.hcl:14:23',
      'MSEG3092 main.hcl:16:23',
    ]);
    const byLine = (l: number) => r.diagnostics.find((d) => d.line === l)!;
    expect(byLine(5).summary).toBe('Invalid ssh host "-oProxyCommand=touch /tmp/mseg-pwned" for enforcer "inject": it starts with "-", so ssh would read it as an option');
    expect(byLine(5).detail).toMatch(/host name .* or an IP address/);
    expect(byLine(6).detail).toMatch(/POSIX user name/);
    expect(byLine(7).detail).toBe('connection.port must be at least 1, not 0. For example: port = 22');
    expect(byLine(14).summary).toMatch(/write the user in user = "root"/);
    expect(byLine(16).detail).toMatch(/whole seconds from 1 to 300,.*The default is 10\./);
  });

  it.each([
    ['connect_timeout = "1m30s"', 90],
    ['connect_timeout = 25', 25],
    ['', undefined],
  ])('HCL: a valid connection keeps its port and %s', (line, seconds) => {
    const raw = evaluateHcl([{ name: 'main.hcl', text: `enforcer "good" {\n  connection {\n    type = "ssh"\n    host = "2001:db8::7"\n    user = "deploy"\n    port = 2222\n    ${line}\n  }\n}\n` }], {});
    const v = validateConfig(raw);
    expect(v.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(v.model!.enforcers[0].connection).toEqual({
      type: 'ssh',
      host: '2001:db8::7',
      user: 'deploy',
      port: 2222,
      strictHostKeyChecking: true,
      ...(seconds === undefined ? {} : { connectTimeoutS: seconds }),
    });
  });

  it('TypeScript: the same checks at the property lines of main.ts', async () => {
    const r = await runPipeline(fixture('ssh-connection-ts'));
    expect(r.stage).toBe('validate');
    expect(at(r.diagnostics)).toEqual(['MSEG3090 main.ts:7:5', 'MSEG3091 main.ts:8:5', 'MSEG3092 main.ts:9:5']);
    expect(r.diagnostics.find((d) => d.line === 7)!.summary).toMatch(/write port = 2222 and host = "db-1.example.com"/);
  });
});
