/**
 * One release version, from package.json, for `--version` and the files microseg writes; and the
 * enforcer capability version (the default enforcer `version`) kept apart from it, so a config
 * that declares no `version` still enforces service_ports (enforcers below 3.12 cannot).
 */
import * as fs from 'fs';
import * as path from 'path';
import * as semver from 'semver';
import { BufferIo } from '../../../src/cli/io';
import { main } from '../../../src/cli/main';
import { compile } from '../../../src/compile';
import { validateConfig } from '../../../src/model/validate';
import { ENFORCER_CAPABILITY_VERSION, PACKAGE_VERSION, readPackageVersion } from '../../../src/version';
import { evaluateHcl } from '../../../src/config/hcl';

const repo = path.resolve(__dirname, '../../..');
const pkg = JSON.parse(fs.readFileSync(path.join(repo, 'package.json'), 'utf8')) as { version: string };

it('--version prints the version in package.json', async () => {
  const io = new BufferIo();
  const code = await main(['node', 'microseg', '--version'], io);
  expect(code).toBe(0);
  expect(io.stdout.trim()).toBe(pkg.version);
  expect(PACKAGE_VERSION).toBe(pkg.version);
});

it('the built module finds the same package.json from dist/src', () => {
  expect(readPackageVersion(path.join(repo, 'dist/src'))).toBe(pkg.version);
  expect(() => readPackageVersion('/')).toThrow(/package.json was not found/);
});

function model(version: string) {
  const raw = evaluateHcl(
    [
      {
        name: 'main.hcl',
        text: `
enforcer "h" {
  ${version}
  connection {
    type  = "netns"
    netns = "h"
  }
}
processing_unit "a" {
  enforcer  = enforcer.h.name
  addresses = ["198.18.0.1"]
  tags      = ["app=a"]
}
external_network "web" {
  entries       = ["198.51.100.0/24"]
  service_ports = ["tcp/443"]
}
network_policy "a-web" {
  subject = [["app=a"]]
  object  = [["$name=web"]]
  ports   = ["tcp/443"]
  action  = "allow"
}
`,
      },
    ],
    {},
  );
  const v = validateConfig(raw);
  expect(v.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return v.model!;
}

it('an enforcer without `version` gets the capability version, not the package release', () => {
  expect(semver.gte(ENFORCER_CAPABILITY_VERSION, '3.12.0')).toBe(true);
  const m = model('');
  expect(m.enforcers[0].version).toBe(ENFORCER_CAPABILITY_VERSION);
  // The enforcer can enforce service_ports: compiling raises no "too old" error...
  expect(compile(m, { now: new Date() }).diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  // ...while the same config on a declared 3.11 enforcer does (the check is live, not vacuous).
  const old = compile(model('version = "3.11.0"'), { now: new Date() }).diagnostics.filter((d) => d.severity === 'error');
  expect(old.map((d) => d.code)).toEqual(['MSEG6001']);
});
