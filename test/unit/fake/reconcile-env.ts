/**
 * fakeEnv: the reconcile suite's hosts as FakeFirewall hosts (providers/fake), so plan, apply,
 * drift and decommission run through the CLI and the reconciler without root. Packets are traced
 * through each host's fake kernel state (FakeHost.trace): the sender's output hook, then the
 * receiver's input hook; a TCP reject answers with a reset (`refused`), a drop is a `timeout`, a
 * port nobody listens on is `refused`.
 */
import type { Rule } from '../../../src/compile/ir';
import { FakeFirewall, type FakeHost } from '../../../providers/fake';
import type { BackendName } from '../../../providers/types';
import type { NodeSpec, TcpResult } from '../../netns/harness';
import type { OwnedKernelRule, ReconcileEnv } from '../../netns/reconcile-suite';

const accept = (id: string, match: Rule['match'] = {}): Rule => ({ id, match, verdict: { kind: 'accept' } });

export function fakeEnv(backend: BackendName): ReconcileEnv & { fake: () => FakeFirewall } {
  let fake = new FakeFirewall();
  let tag = '';
  let nodes: NodeSpec[] = [];
  const listeners = new Set<string>();
  const variant = backend === 'iptables-legacy' ? 'legacy' : 'nft';
  const iptables = backend !== 'nftables';
  const nsName = (node: string) => `fake-${tag}-${node}`;
  const host = (node: string): FakeHost => fake.host(nsName(node));
  const nodeOf = (addr: string) => nodes.find((n) => n.v4 === addr || n.v6 === addr);

  /** walk: what the two hosts' firewalls do with a new connection from `from` to `addr`. */
  const walk = (from: string, addr: string, protocol: string, extra: { dport?: number; icmpType?: number; icmpCode?: number }) => {
    const src = nodes.find((n) => n.name === from)!;
    const dst = nodeOf(addr);
    const packet = { src: addr.includes(':') ? src.v6 : src.v4, dst: addr, protocol, ...extra };
    const out = host(from).trace(packet, 'output');
    if (out === 'reject' || out === 'drop') return { verdict: out, dst };
    if (!dst) return { verdict: 'drop' as const, dst };
    return { verdict: host(dst.name).trace(packet, 'input'), dst };
  };

  return {
    fake: () => fake,
    // Stable across create(): the suite captures it when it is defined.
    connect: (c) => fake.connect(c),
    describe: (name, fn) => describe(name, fn),
    async create(t, ns) {
      tag = t;
      nodes = ns;
      fake = new FakeFirewall();
      // Each node holds its own addresses, as the netns nodes do: its PUs are local.
      for (const n of ns) fake.addHost(nsName(n.name), { detect: backend, addresses: [n.v4, n.v6].filter((a): a is string => !!a) });
    },
    async teardown() {
      listeners.clear();
    },
    nsName,
    async listen(node, proto, port) {
      listeners.add(`${node}/${proto}/${port}`);
    },
    async tcpConnect(from, addr, port): Promise<TcpResult> {
      const { verdict, dst } = walk(from, addr, 'tcp', { dport: port });
      if (verdict === 'drop') return 'timeout';
      if (verdict === 'reject') return 'refused';
      return dst && listeners.has(`${dst.name}/tcp/${port}`) ? 'open' : 'refused';
    },
    async ping(from, addr) {
      const { verdict, dst } = walk(from, addr, addr.includes(':') ? 'icmpv6' : 'icmp', { icmpType: addr.includes(':') ? 128 : 8, icmpCode: 0 });
      return dst !== undefined && verdict !== 'reject' && verdict !== 'drop';
    },
    ownedOn: async (node) => host(node).owned(),
    foreignOn: async (node) => host(node).foreign(),
    async addForeign(node) {
      const h = host(node);
      if (iptables) {
        h.xtInsertRule(variant, 4, 'INPUT', h.xtRules(variant, 4, 'INPUT').length + 1, '-s 198.19.255.1/32 -m comment --comment "admin rule" -j ACCEPT', accept('admin4', { srcAddr: '198.19.255.1' }));
        h.xtInsertRule(variant, 6, 'INPUT', h.xtRules(variant, 6, 'INPUT').length + 1, '-s 2001:2:0:ffff::1/128 -j ACCEPT', accept('admin6', { srcAddr: '2001:2:0:ffff::1' }));
        h.createForeignIpset(`foreign-${node}`);
      } else {
        h.addForeignBaseChain({ family: 'inet', table: 'foreign', name: 'c', hook: 'input', prio: 10, rules: [accept('admin', { srcAddr: '198.19.255.1' })] });
      }
    },
    holdsMember: async (node, cidr) => host(node).holdsMember(cidr),
    async insertForeignAccept(node, chain) {
      if (iptables) host(node).xtInsertRule(variant, 4, chain, 1, '-j ACCEPT', accept('foreign'));
      else host(node).nftInsertRule(chain, accept('foreign'));
    },
    async acceptAheadOfMicroseg(node) {
      if (iptables) host(node).xtInsertRule(variant, 4, 'INPUT', 1, '-j ACCEPT', accept('foreign'));
      else host(node).nftInsertRule('in', accept('foreign'));
    },
    async deleteRule(node, chain, id) {
      const h = host(node);
      if (!iptables) return h.nftDeleteRule(chain, id);
      const n = h.xtRules(variant, 4, chain).findIndex((l) => l.includes(`"microseg:${id}"`));
      if (n < 0) throw new Error(`rule ${id} not in ${chain}`);
      h.xtDeleteRule(variant, 4, chain, n + 1);
    },
    async flushChain(node, chain) {
      const h = host(node);
      if (!iptables) return h.nftFlushChain(chain);
      h.xtFlushChain(variant, 4, chain);
      h.xtFlushChain(variant, 6, chain);
    },
    inputRules: async (node) => ['-P INPUT ACCEPT', ...host(node).xtRules(variant, 4, 'INPUT')],
    removeHost: async (node) => fake.removeHost(nsName(node)),
    async ownedRules(node) {
      const h = host(node);
      const out: OwnedKernelRule[] = [];
      if (!iptables) {
        for (const l of h.owned()) {
          const m = /^nft chain (\S+) /.exec(l);
          if (m) for (const id of h.nftRuleIds(m[1])) out.push({ chain: m[1], id });
        }
        return out;
      }
      for (const fam of [4, 6] as const) {
        for (const l of h.owned()) {
          const m = new RegExp(`^${variant} v${fam} chain MSEG-(\\S+) `).exec(l);
          if (!m) continue;
          for (const r of h.xtRules(variant, fam, m[1])) {
            const c = /"microseg:([^"]+)"/.exec(r);
            if (c) out.push({ chain: m[1], id: c[1], family: fam });
          }
        }
      }
      return out;
    },
    async tamperRule(node, r, how) {
      const h = host(node);
      if (!iptables) {
        if (how === 'delete') return h.nftDeleteRule(r.chain, r.id);
        const was = h.nftVerdict(r.chain, r.id);
        return h.setVerdict('nftables', r.chain, r.id, was.kind === 'accept' ? { kind: 'drop' } : { kind: 'accept' });
      }
      const fam = r.family ?? 4;
      const rules = h.xtRules(variant, fam, r.chain);
      const n = rules.findIndex((l) => l.includes(`"microseg:${r.id}"`));
      if (n < 0) throw new Error(`rule ${r.id} not in ${r.chain}`);
      if (how === 'delete') return h.xtDeleteRule(variant, fam, r.chain, n + 1);
      h.setVerdict({ variant, family: fam }, r.chain, r.id.replace(/#\d+\/\d+$/, ''), / -j ACCEPT$/.test(rules[n]) ? { kind: 'drop' } : { kind: 'accept' });
    },
  };
}
