// IP-auth accepts only public unicast IPv4 addresses (plus the documentation ranges the
// original API document uses in its examples).
import net from 'node:net';

const refused = new net.BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8], // "this" network, unspecified
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, includes 255.255.255.255 broadcast
] as const) {
  refused.addSubnet(network, prefix, 'ipv4');
}

const IPV4_RE = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** Null when acceptable, else why not. */
export function publicIpv4Problem(ip: unknown): string | null {
  if (typeof ip !== 'string' || !IPV4_RE.test(ip)) return 'must be an IPv4 address like 203.0.113.10';
  if (refused.check(ip, 'ipv4')) return 'must be a public unicast address (no private, loopback, link-local, CGNAT, multicast or reserved ranges)';
  return null;
}
