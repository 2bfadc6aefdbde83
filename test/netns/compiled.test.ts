/**
 * Fake tracer vs kernel on compiled rulesets, for every backend usable here (see cases.ts).
 */
import { providerFor, type BackendName } from '../../providers';
import { fullSync } from './program';
import { traceConnection } from '../../src/trace/tracer';
import { CASES, KNOWN_DIVERGENCES, LISTENERS, NODE_ENFORCER, addrOf, caseModel, caseRulesets, connectionOf, type PacketCase } from './cases';
import { NODES } from './fixtures';
import { Topology, describeAsRoot, legacySkipReason, ownedView } from './harness';

const model = caseModel();
const rulesets = caseRulesets(model);

describe('compiled case table: the fake tracer', () => {
  it('produces a ruleset for both enforcers', () => {
    expect([...rulesets.keys()].sort()).toEqual(['cli', 'srv']);
  });
});

const BACKENDS: Array<[BackendName, string]> = [
  ['nftables', 'cn'],
  ['iptables-nft', 'ci'],
  ['iptables-legacy', 'cl'],
];

for (const [backend, tag] of BACKENDS) {
  describeAsRoot(
    `compiled case table: fake tracer and ${backend} kernel agree`,
    () => {
      let topo: Topology;
      const provider = providerFor(backend);

      beforeAll(async () => {
        topo = await Topology.create(tag, NODES);
        for (const l of LISTENERS) await topo.listen(l.node, l.proto, l.port, l.family);
        for (const [node, enf] of Object.entries(NODE_ENFORCER)) {
          if (!enf) continue;
          const host = topo.host(node);
          await fullSync(host, provider, rulesets.get(enf)!, await provider.read(host));
        }
      });
      afterAll(async () => {
        await topo?.teardown();
      });

      /**
       * kernelVerdict: what real packets got, in the tracer's terms. TCP tells reject (RST or ICMP
       * unreachable → refused) from drop (timeout); UDP and ping only tell allowed or not.
       */
      async function kernelVerdict(c: PacketCase): Promise<{ allowed: boolean; tcp?: string }> {
        const dst = addrOf(c.to, c.family);
        if (c.protocol === 'tcp') {
          const r = await topo.tcpConnect(c.from, dst, c.port!);
          return { allowed: r === 'open', tcp: r };
        }
        if (c.protocol === 'udp') return { allowed: (await topo.udpExchange(c.from, dst, c.port!)) !== null };
        return { allowed: await topo.ping(c.from, dst) };
      }

      it('read-back equals what the provider expects on each enforcer', async () => {
        for (const [node, enf] of Object.entries(NODE_ENFORCER)) {
          if (!enf) continue;
          expect(ownedView(await provider.read(topo.host(node)))).toEqual(provider.expected!(rulesets.get(enf)!));
        }
      });

      for (const c of CASES) {
        const known = KNOWN_DIVERGENCES[c.name];
        (known ? it.failing : it)(known ? `${c.name} [known divergence: ${known}]` : c.name, async () => {
          const traced = traceConnection(rulesets, model, connectionOf(c));
          const want: { allowed: boolean; tcp?: string } = { allowed: traced.allowed };
          if (c.protocol === 'tcp') want.tcp = traced.allowed ? 'open' : traced.verdict === 'drop' ? 'timeout' : 'refused';
          expect({ case: c.name, ...(await kernelVerdict(c)) }).toEqual({ case: c.name, ...want });
        });
      }
    },
    backend === 'iptables-legacy' ? legacySkipReason : undefined,
  );
}
