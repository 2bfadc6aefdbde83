/**
 * Known IP protocol names (the /etc/protocols spellings) that a service port may name without
 * ports, with their IANA numbers. The list is fixed rather than read from the running machine so
 * that validation gives the same answer on every host and in CI, and so that compile can render
 * the number when a host's /etc/protocols lacks the name.
 */

/** PORT_PROTOCOLS are the protocols whose service ports carry port numbers. */
export const PORT_PROTOCOLS = ['tcp', 'udp'] as const;

/** ICMP_PROTOCOLS are the protocols whose service ports carry an ICMP type and codes. */
export const ICMP_PROTOCOLS = ['icmp', 'icmp6'] as const;

/**
 * OTHER_PROTOCOLS maps every other accepted protocol name to its IANA number. These service
 * ports cannot carry ports (`gre`, not `gre/1`).
 */
export const OTHER_PROTOCOLS: Readonly<Record<string, number>> = Object.freeze({
  igmp: 2,
  ggp: 3,
  ipencap: 4,
  st: 5,
  egp: 8,
  igp: 9,
  pup: 12,
  hmp: 20,
  'xns-idp': 22,
  rdp: 27,
  'iso-tp4': 29,
  dccp: 33,
  xtp: 36,
  ddp: 37,
  'idpr-cmtp': 38,
  ipv6: 41,
  'ipv6-route': 43,
  'ipv6-frag': 44,
  idrp: 45,
  rsvp: 46,
  gre: 47,
  esp: 50,
  ah: 51,
  skip: 57,
  'ipv6-nonxt': 59,
  'ipv6-opts': 60,
  rspf: 73,
  vmtp: 81,
  eigrp: 88,
  ospf: 89,
  'ax.25': 93,
  ipip: 94,
  etherip: 97,
  encap: 98,
  pim: 103,
  ipcomp: 108,
  vrrp: 112,
  l2tp: 115,
  isis: 124,
  sctp: 132,
  fc: 133,
  'mobility-header': 135,
  udplite: 136,
  'mpls-in-ip': 137,
  manet: 138,
  hip: 139,
  shim6: 140,
  wesp: 141,
  rohc: 142,
});

/** PROTOCOL_NUMBERS maps a protocol number to the name microseg spells it with. */
export const PROTOCOL_NUMBERS: ReadonlyMap<number, string> = new Map<number, string>([
  [1, 'icmp'],
  [6, 'tcp'],
  [17, 'udp'],
  [58, 'icmp6'],
  ...Object.entries(OTHER_PROTOCOLS).map(([name, n]) => [n, name] as [number, string]),
]);

/** ALL_PROTOCOL_NAMES lists every accepted protocol name, for "did you mean" hints. */
export const ALL_PROTOCOL_NAMES: readonly string[] = [
  ...PORT_PROTOCOLS,
  ...ICMP_PROTOCOLS,
  ...Object.keys(OTHER_PROTOCOLS),
];

/** ALIASES maps other common spellings to microseg's name (they are errors that suggest it). */
export const PROTOCOL_ALIASES: Readonly<Record<string, string>> = Object.freeze({
  'ipv6-icmp': 'icmp6',
  icmpv6: 'icmp6',
  'icmp-v6': 'icmp6',
  ipv6icmp: 'icmp6',
});
