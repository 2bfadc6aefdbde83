/**
 * `flows --follow` prints through a view chosen once per run: flow lines, or one JSON object per
 * record and line (what `suggest --from-flows` reads back). Either way stdout holds records only:
 * a host that cannot be read is a diagnostic on stderr.
 */
import { BufferIo } from '../../../src/cli/io';
import { flowsFollowView } from '../../../src/cli/views/flows';
import { enforcerAddress, makeDiagnostic, withAddress } from '../../../src/diagnostics';
import { flowLine, type FlowRecord } from '../../../src/flows/records';
import { readFlowRecords } from '../../../src/flows/suggest-input';

const rec: FlowRecord = {
  time: '2026-12-06T20:00:00.000Z',
  enforcer: 'web',
  direction: 'incoming',
  src: '198.18.0.12',
  src_identity: 'api',
  dst: '198.18.0.11',
  dst_identity: 'web',
  protocol: 'tcp',
  port: 8000,
  verdict: 'allow',
  policy: '/t api-to-web',
  default: false,
};
const down = withAddress(makeDiagnostic('warning', 'MSEG9701', 'Cannot read the flows of enforcer db', 'netns gone'), enforcerAddress('db'));

describe('flowsFollowView', () => {
  it('human: one flow line per record on stdout, diagnostics on stderr', () => {
    const io = new BufferIo();
    const v = flowsFollowView(io, false);
    v.records([rec, { ...rec, verdict: 'reject' }]);
    v.diagnostics([down]);
    expect(io.stdout).toBe(`${flowLine(rec)}\n${flowLine({ ...rec, verdict: 'reject' })}\n`);
    expect(io.stderr).toMatch(/^warning: Cannot read the flows of enforcer db \[MSEG9701\]\n {2}with enforcer\.db\n {2}netns gone/);
  });

  it('JSON: one record per line, read back whole by suggest; diagnostics stay off stdout', () => {
    const io = new BufferIo();
    const v = flowsFollowView(io, true);
    v.records([rec]);
    v.diagnostics([down]);
    v.records([{ ...rec, port: 8001 }]);
    expect(io.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l))).toEqual([rec, { ...rec, port: 8001 }]);
    const back = readFlowRecords('follow.jsonl', io.stdout);
    expect(back.diagnostics).toEqual([]);
    expect(back.records.map((r) => [r.src, r.dst, r.port, r.verdict])).toEqual([['198.18.0.12', '198.18.0.11', 8000, 'allow'], ['198.18.0.12', '198.18.0.11', 8001, 'allow']]);
    expect(io.stderr).toMatch(/MSEG9701/);
  });
});
