/**
 * Two versions that used to be one constant, and must not be confused:
 *
 * - PACKAGE_VERSION is this microseg's own release, read from package.json so `--version`, plan
 *   files and state files name the build that wrote them and there is one place to bump it.
 * - ENFORCER_CAPABILITY_VERSION is the enforcer software level whose features microseg's compiled
 *   rulesets implement (Aporeto's numbering: 3.12 added service_ports). It is the default `version`
 *   of an enforcer that does not declare one (DESIGN §4), and it must stay at least 3.12 so a
 *   config without `version` keeps enforcing service_ports. Tying it to the package release
 *   (0.x) would make every undeclared enforcer "older than 3.12" and fail every plan.
 */
import * as fs from 'fs';
import * as path from 'path';

/** readPackageVersion walks up from `from` to microseg's package.json (src/ under ts-jest, dist/src/ when built). */
export function readPackageVersion(from: string = __dirname): string {
  let dir = from;
  for (;;) {
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file)) {
      const pkg = JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'microseg' && typeof pkg.version === 'string') return pkg.version;
    }
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`microseg's package.json was not found above ${from}`);
    dir = up;
  }
}

/** PACKAGE_VERSION is microseg's release (package.json `version`): `--version`, plan and state files. */
export const PACKAGE_VERSION: string = readPackageVersion();

/** ENFORCER_CAPABILITY_VERSION is the enforcer level microseg compiles for: an undeclared enforcer `version`. */
export const ENFORCER_CAPABILITY_VERSION = '3.14.0';

/**
 * MICROSEG_VERSION is the old name of PACKAGE_VERSION, kept so code written against it still
 * means the release. It is never the default enforcer version: that is ENFORCER_CAPABILITY_VERSION.
 * @deprecated use PACKAGE_VERSION.
 */
export const MICROSEG_VERSION = PACKAGE_VERSION;
