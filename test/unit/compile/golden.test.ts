/**
 * Golden compile output: a small model's rulesets, serialised as JSON, pinned in
 * test/golden/compile/. Any change to names, ids, order or layout shows up as a reviewable diff.
 * Regenerate deliberately with `UPDATE_GOLDEN=1 npx jest test/unit/compile/golden`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { compile } from '../../../src/compile';
import { NOW, enforcer, expr, extnet, model, namespace, policy, profile, pu, sps, cidr } from './builders';

const GOLDEN = path.join(__dirname, '../../golden/compile');

const cases: Record<string, () => ReturnType<typeof model>> = {
  small: () =>
    model({
      namespaces: [namespace('/acme', { defaultOutgoingAction: 'allow' })],
      enforcers: [enforcer('web-1', { profile: 'base' }), enforcer('db-1'), enforcer('spare')],
      enforcerProfiles: [profile('base', { excludedNetworks: [cidr('192.0.2.0/24')], failsafe: sps('tcp/22') })],
      processingUnits: [
        pu('web', 'web-1', ['198.18.1.10', '2001:db8:1::10'], ['app=web'], { namespace: '/acme' }),
        pu('db', 'db-1', ['198.18.2.10'], ['app=db'], { namespace: '/acme' }),
      ],
      externalNetworks: [
        extnet('internet', ['0.0.0.0/0', '!10.0.0.0/8', '10.1.0.0/16'], ['tcp/443', 'icmp/8/0'], ['zone=internet'], { namespace: '/acme' }),
      ],
      networkPolicies: [
        policy('web-to-db', expr('app=web'), expr('app=db'), { namespace: '/acme', ports: sps('tcp/5432'), logsEnabled: true }),
        policy('web-to-internet', expr('app=web'), expr('zone=internet'), {
          namespace: '/acme',
          applyPolicyMode: 'outgoing',
          ports: sps('tcp/443', 'tcp/80', 'icmp'),
        }),
        policy('no-db-from-web6', expr('app=web'), expr('app=db'), { namespace: '/acme', action: 'reject', applyPolicyMode: 'incoming', fallback: true }),
      ],
    }),
};

describe('golden compile output', () => {
  it.each(Object.keys(cases))('%s', (name) => {
    const got = `${JSON.stringify(compile(cases[name](), { now: NOW }), null, 2)}\n`;
    const file = path.join(GOLDEN, `${name}.json`);
    if (process.env.UPDATE_GOLDEN === '1' || !fs.existsSync(file)) fs.writeFileSync(file, got);
    expect(got).toBe(fs.readFileSync(file, 'utf8'));
  });
});
