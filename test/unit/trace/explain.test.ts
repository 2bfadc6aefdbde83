/**
 * explainChanges: connections whose verdict flips between two configurations, on the ports the
 * policies mention, with the deciding policy before and after.
 */
import * as fs from 'fs';
import * as path from 'path';
import { explainChanges, probePorts } from '../../../src/trace/explain';
import type { ServicePort } from '../../../src/model/types';
import { parseServicePort } from '../../../src/model/service-ports';
import { QUICKSTART, load, loadHcl } from './helpers';

const policies = fs.readFileSync(path.join(QUICKSTART, 'policies.hcl'), 'utf8');

/** edited loads the quickstart with policies.hcl rewritten by `edit`. */
function edited(edit: (text: string) => string) {
  const text = edit(policies);
  expect(text).not.toBe(policies);
  return loadHcl({ 'policies.hcl': text }, QUICKSTART);
}

/** dropBlock removes one `network_policy "name" { ... }` block (its closing brace starts a line). */
const dropBlock = (name: string) => (t: string) => t.replace(new RegExp(`network_policy "${name}" \\{[\\s\\S]*?\n\\}\n`), '');

const sp = (t: string): ServicePort => {
  const r = parseServicePort(t);
  if (!r.ok) throw new Error(r.message);
  return r.value;
};

describe('explainChanges', () => {
  it('lists nothing when nothing changes', async () => {
    const a = await load(QUICKSTART);
    const b = await load(QUICKSTART);
    expect(explainChanges(a.model, a.rulesets, b.model, b.rulesets)).toEqual([]);
  });

  it('removing a reject flips the connection it blocked, and names the policies before and after', async () => {
    const before = await load(QUICKSTART);
    const after = await edited(dropBlock('no-web-to-db'));
    expect(explainChanges(before.model, before.rulesets, after.model, after.rulesets)).toEqual([
      { from: 'web', to: 'db', port: 'tcp/5432', before: 'reject', after: 'allow', policy_before: 'no-web-to-db', policy_after: 'backend-to-db' },
    ]);
  });

  it('narrowing a port range flips the range end that left it, in both directions of the change', async () => {
    const before = await load(QUICKSTART);
    const after = await edited((t) => t.replace('ports       = ["tcp/8000:8100"]', 'ports       = ["tcp/8000:8050"]'));
    const flip = { from: 'web', to: 'api', port: 'tcp/8100', before: 'allow', after: 'reject', policy_before: 'web-to-api', policy_after: 'default' };
    expect(explainChanges(before.model, before.rulesets, after.model, after.rulesets)).toEqual([flip]);
    // and back: the same connection flips the other way
    expect(explainChanges(after.model, after.rulesets, before.model, before.rulesets)).toEqual([
      { ...flip, before: 'reject', after: 'allow', policy_before: 'default', policy_after: 'web-to-api' },
    ]);
  });

  it('covers external networks as destinations', async () => {
    const before = await load(QUICKSTART);
    const after = await edited(dropBlock('web-to-internet'));
    expect(explainChanges(before.model, before.rulesets, after.model, after.rulesets)).toEqual([
      { from: 'web', to: 'internet', port: 'tcp/443', before: 'allow', after: 'reject', policy_before: 'web-to-internet', policy_after: 'default' },
    ]);
  });

  it('a change of tags flips every connection of the PU that the selecting policies governed', async () => {
    const before = await load(QUICKSTART);
    const hosts = fs.readFileSync(path.join(QUICKSTART, 'hosts.hcl'), 'utf8');
    const after = await loadHcl({ 'hosts.hcl': hosts.replace('tags      = ["app=web", local.env_tag, "tier=frontend"]', 'tags      = ["app=web", "tier=frontend"]') }, QUICKSTART);
    const flips = explainChanges(before.model, before.rulesets, after.model, after.rulesets);
    // web lost env=prod: web-to-api needs it; backend-to-db needed it too, but no-web-to-db rejected web anyway
    expect(flips.map((f) => `${f.from}→${f.to} ${f.port} ${f.before}→${f.after}`)).toEqual([
      'web→api tcp/8000 allow→reject',
      'web→api tcp/8100 allow→reject',
    ]);
  });

  it('ignores PUs that exist on one side only (a resource change, not a verdict flip)', async () => {
    const before = await load(QUICKSTART);
    const hosts = fs.readFileSync(path.join(QUICKSTART, 'hosts.hcl'), 'utf8');
    const after = await loadHcl(
      { 'hosts.hcl': `${hosts}\nprocessing_unit "cache" {\n  namespace = "/acme/prod"\n  enforcer  = "api-1"\n  addresses = ["198.18.2.11"]\n  tags      = ["app=cache"]\n}\n` },
      QUICKSTART,
    );
    expect(explainChanges(before.model, before.rulesets, after.model, after.rulesets)).toEqual([]);
  });
});

describe('probePorts', () => {
  it('takes both ends of ranges, ICMP types with first and last codes, other protocols; not any', () => {
    expect(probePorts(['tcp/8000:8100', 'tcp/443', 'udp/53', 'icmp/8/0', 'icmp/3/0:4,13', 'icmp', 'icmp6', 'gre', 'any', 'tcp/443'].map(sp))).toEqual([
      'gre',
      'icmp/3/0',
      'icmp/3/4',
      'icmp/3/13',
      'icmp/8/0',
      'icmp6/128/0',
      'tcp/443',
      'tcp/8000',
      'tcp/8100',
      'udp/53',
    ]);
  });
});
