/**
 * The service-port grammar of DESIGN §4, used by policy `ports`, external network
 * `service_ports`, profile `failsafe` and `expect.port`. Parsing is case-insensitive and yields a
 * canonical lower-case `text`, so that HCL and TypeScript configurations inspect identically and
 * compile can key sets and rule hashes on it.
 *
 * Every error message names what is wrong and shows a valid form, because these strings are read
 * by someone fixing a config file at the line the diagnostic points to.
 */
import { didYouMean } from '../diagnostics';
import type { PortRange, ServicePort } from './types';
import { ALL_PROTOCOL_NAMES, OTHER_PROTOCOLS, PROTOCOL_ALIASES, PROTOCOL_NUMBERS } from './protocols';

/** ParseResult is the outcome of parsing one grammar element: a value, or a message for a human. */
export type ParseResult<T> = { ok: true; value: T } | { ok: false; message: string };

/** SERVICE_PORT_EXAMPLES is the short list of valid forms shown when nothing more specific fits. */
export const SERVICE_PORT_EXAMPLES = '"any", "tcp/443", "udp/53", "tcp/8000:8100", "icmp/8", "icmp6/128" or "gre"';

const L4_FORM: Record<'tcp' | 'udp', string> = {
  tcp: 'a tcp service port is tcp/N or tcp/A:B, for example "tcp/80" or "tcp/8000:8100"',
  udp: 'a udp service port is udp/N or udp/A:B, for example "udp/53" or "udp/8000:8100"',
};
const ICMP_FORM: Record<'icmp' | 'icmp6', string> = {
  icmp: 'an icmp service port is icmp, icmp/TYPE or icmp/TYPE/CODES, for example "icmp", "icmp/8" or "icmp/3/0:4,13"',
  icmp6: 'an icmp6 service port is icmp6, icmp6/TYPE or icmp6/TYPE/CODES, for example "icmp6", "icmp6/128" or "icmp6/1/0:4"',
};

const DIGITS = /^\d{1,6}$/;

/**
 * parseServicePort parses one service-port entry (`any`, `tcp/80`, `udp/1000:2000`, `icmp/3/0:4,13`,
 * `gre`, ...) into its canonical form, or explains what is wrong with it.
 */
export function parseServicePort(text: string): ParseResult<ServicePort> {
  const q = JSON.stringify(text);
  const s = text.trim().toLowerCase();
  const fail = (message: string): ParseResult<ServicePort> => ({ ok: false, message });
  if (s === '') return fail(`empty service port: write one of ${SERVICE_PORT_EXAMPLES}`);
  if (/\s/.test(s)) return fail(`${q} contains a space: write it without spaces, for example "tcp/80"`);

  const parts = s.split('/');
  const proto = parts[0];
  const rest = parts.slice(1);

  if (proto === 'any') {
    if (rest.length > 0) return fail(`${q}: "any" takes no ports: write "any" alone, or a protocol with ports such as "tcp/80"`);
    return { ok: true, value: { kind: 'any', text: 'any' } };
  }
  if (/^\d+$/.test(proto)) {
    const name = PROTOCOL_NUMBERS.get(Number(proto));
    const suggestion = name ? `write the protocol name "${name}"${rest.length && (name === 'tcp' || name === 'udp' || name === 'icmp' || name === 'icmp6') ? `, for example "${[name, ...rest].join('/')}"` : ''}` : `write a protocol name such as ${SERVICE_PORT_EXAMPLES}`;
    return fail(`${q} uses protocol number ${proto}: protocol numbers are not accepted; ${suggestion}`);
  }
  if (proto === '') return fail(`${q} has no protocol: write one of ${SERVICE_PORT_EXAMPLES}`);

  if (proto === 'tcp' || proto === 'udp') return parseL4(q, proto, rest);
  if (proto === 'icmp' || proto === 'icmp6') return parseIcmp(q, proto, rest);

  if (Object.prototype.hasOwnProperty.call(OTHER_PROTOCOLS, proto)) {
    if (rest.length > 0) return fail(`${q}: protocol ${proto} has no ports: write "${proto}" alone`);
    return { ok: true, value: { kind: 'proto', protocol: proto, text: proto } };
  }
  const alias = PROTOCOL_ALIASES[proto];
  if (alias) return fail(`${q}: protocol ${proto} is written "${alias}" in microseg, for example "${[alias, ...rest].join('/')}"`);
  const guess = didYouMean(proto, ALL_PROTOCOL_NAMES);
  return fail(
    `${q} names unknown protocol "${proto}"${guess ? ` (did you mean "${guess}"?)` : ''}: write one of ${SERVICE_PORT_EXAMPLES}`,
  );
}

function parseL4(q: string, proto: 'tcp' | 'udp', rest: string[]): ParseResult<ServicePort> {
  const form = L4_FORM[proto];
  const fail = (what: string): ParseResult<ServicePort> => ({ ok: false, message: `${q} ${what}: ${form}` });
  if (rest.length === 0 || (rest.length === 1 && rest[0] === '')) return fail('has no port');
  if (rest.length > 1) return fail('has more than one "/"');
  const p = rest[0];
  if (p.includes(',')) return fail('lists several ports; write one service port per port or range');
  if (/^\d+-\d+$/.test(p)) return fail(`writes a range with "-"; write it with ":", as "${proto}/${p.replace('-', ':')}"`);
  const m = /^(\d+)(?::(\d+))?$/.exec(p);
  if (!m) return fail(`has "${p}" where a port is expected`);
  for (const n of [m[1], m[2]]) {
    if (n !== undefined && (!DIGITS.test(n) || Number(n) > 65535)) return fail(`has port ${n}, outside 0-65535`);
  }
  const from = Number(m[1]);
  if (m[2] === undefined) {
    return { ok: true, value: { kind: 'l4', protocol: proto, ports: { from, to: from }, text: `${proto}/${from}` } };
  }
  const to = Number(m[2]);
  if (from === to) return fail(`is a range whose ends are equal; write the single port "${proto}/${from}"`);
  if (from > to) return fail(`is a range whose start is above its end; write "${proto}/${to}:${from}"`);
  return { ok: true, value: { kind: 'l4', protocol: proto, ports: { from, to }, text: `${proto}/${from}:${to}` } };
}

function parseIcmp(q: string, proto: 'icmp' | 'icmp6', rest: string[]): ParseResult<ServicePort> {
  const form = ICMP_FORM[proto];
  const fail = (what: string): ParseResult<ServicePort> => ({ ok: false, message: `${q} ${what}: ${form}` });
  if (rest.length === 0) return { ok: true, value: { kind: 'icmp', protocol: proto, text: proto } };
  if (rest.length > 2) return fail('has more than two "/"');
  const t = rest[0];
  if (t === '') return fail('has an empty type');
  if (t.includes(',') || t.includes(':')) return fail('lists more than one type; write one service port per ICMP type');
  if (!DIGITS.test(t)) return fail(`has "${t}" where an ICMP type number is expected`);
  const type = Number(t);
  if (type > 255) return fail(`has type ${type}, outside 0-255`);
  if (rest.length === 1) return { ok: true, value: { kind: 'icmp', protocol: proto, type, text: `${proto}/${type}` } };

  const c = rest[1];
  if (c === '') return fail('has an empty code list');
  const codes: PortRange[] = [];
  for (const item of c.split(',')) {
    const m = /^(\d+)(?::(\d+))?$/.exec(item);
    if (!m) return fail(`has "${item}" where an ICMP code or code range C1:C2 is expected`);
    for (const n of [m[1], m[2]]) {
      if (n !== undefined && (!DIGITS.test(n) || Number(n) > 255)) return fail(`has code ${n}, outside 0-255`);
    }
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (m[2] !== undefined && from >= to) {
      return fail(
        from === to
          ? `has code range ${item} whose ends are equal; write the single code ${from}`
          : `has code range ${item} whose start is above its end; write ${to}:${from}`,
      );
    }
    const prev = codes[codes.length - 1];
    if (prev && from <= prev.to) {
      return fail(`has codes out of order or overlapping at "${item}"; list codes ascending without overlap`);
    }
    codes.push({ from, to });
  }
  const codeText = codes.map((r) => (r.from === r.to ? String(r.from) : `${r.from}:${r.to}`)).join(',');
  return { ok: true, value: { kind: 'icmp', protocol: proto, type, codes, text: `${proto}/${type}/${codeText}` } };
}

/** ListProblem is a problem with one element of a list, by index, for a diagnostic at that element. */
export interface ListProblem {
  index: number;
  message: string;
}

/**
 * parseServicePortList parses every entry and applies the list-level rules: `any` must be alone
 * and no entry may repeat another (compared canonically, so `TCP/80` repeats `tcp/80`). It reports
 * every problem, not just the first; `ports` holds the entries that parsed, in input order. An
 * empty list is valid and means any (callers where empty means none say so themselves).
 */
export function parseServicePortList(list: readonly string[]): { ports: ServicePort[]; problems: ListProblem[] } {
  const ports: ServicePort[] = [];
  const problems: ListProblem[] = [];
  const seen = new Map<string, number>();
  let anyIndex = -1;
  list.forEach((text, index) => {
    const r = parseServicePort(text);
    if (!r.ok) {
      problems.push({ index, message: r.message });
      return;
    }
    const first = seen.get(r.value.text);
    if (first !== undefined) {
      problems.push({
        index,
        message: `${JSON.stringify(text)} repeats ${JSON.stringify(list[first])} (entry ${first + 1}): remove one of them`,
      });
      return;
    }
    seen.set(r.value.text, index);
    if (r.value.kind === 'any') anyIndex = index;
    ports.push(r.value);
  });
  if (anyIndex >= 0 && list.length > 1) {
    problems.push({
      index: anyIndex,
      message: `"any" must be the only service port, since it already allows every protocol and port: remove "any" or the other entries`,
    });
  }
  problems.sort((a, b) => a.index - b.index);
  return { ports, problems };
}
