// IP address rules for the listeners: allow-lists of addresses and CIDR blocks, loopback
// detection for bind addresses, and the key a connection is counted under per address.
import net from 'node:net';

/** Checks one allow-list entry: an IPv4/IPv6 address or a CIDR block. Returns why it is not one, or null. */
export function addressRuleProblem(entry: string): string | null {
  const [address, bits, ...rest] = entry.split('/');
  const family = net.isIP(address);
  if (family === 0 || rest.length > 0) return `"${entry}" is not an IP address or CIDR block (e.g. 10.0.0.5 or 10.0.0.0/24)`;
  if (bits === undefined) return null;
  const maxBits = family === 4 ? 32 : 128;
  if (!/^\d{1,3}$/.test(bits) || Number(bits) > maxBits) return `"${entry}": the prefix length must be 0-${maxBits}`;
  return null;
}

/** Splits a comma-separated list; every entry must pass addressRuleProblem. */
export function parseAddressRules(raw: string): { rules: string[]; problem: string | null } {
  const rules = raw.split(',').map((s) => s.trim());
  if (rules.length === 1 && rules[0] === '') return { rules: [], problem: null };
  for (const rule of rules) {
    if (rule === '') return { rules: [], problem: 'an entry is empty (stray comma)' };
    const problem = addressRuleProblem(rule);
    if (problem) return { rules: [], problem };
  }
  return { rules, problem: null };
}

/** A matcher over valid rules; IPv4-mapped IPv6 peers (`::ffff:10.0.0.5`) match IPv4 rules. */
export function addressMatcher(rules: readonly string[]): (address: string | undefined) => boolean {
  const list = new net.BlockList();
  for (const rule of rules) {
    const [address, bits] = rule.split('/');
    const type = net.isIP(address) === 4 ? 'ipv4' : 'ipv6';
    if (bits === undefined) list.addAddress(address, type);
    else list.addSubnet(address, Number(bits), type);
  }
  return (address) => {
    if (!address) return false;
    const family = net.isIP(address);
    return family !== 0 && list.check(address, family === 4 ? 'ipv4' : 'ipv6');
  };
}

/** Whether a bind address reaches this machine only. Host names other than localhost count as reachable. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  return net.isIPv4(h) && h.startsWith('127.');
}

/**
 * The key a peer's connections are counted under: its IPv4 address, or for IPv6 its /64
 * (one subscriber line or host gets a whole /64, and could otherwise take a fresh address per
 * connection).
 */
export function peerKey(address: string | undefined): string {
  if (!address) return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1];
  if (!net.isIPv6(address)) return address;
  return `${expandIPv6(address).slice(0, 4).join(':')}::/64`;
}

/** The eight 16-bit groups of an IPv6 address, in lower-case hex without leading zeros. */
function expandIPv6(address: string): string[] {
  const zone = address.indexOf('%');
  const bare = (zone === -1 ? address : address.slice(0, zone)).toLowerCase();
  const [head, tail] = bare.split('::');
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail === undefined ? [] : (tail ? tail.split(':') : []);
  // An embedded IPv4 tail (::1.2.3.4) is two groups; only the first four groups are used anyway.
  const missing = 8 - headGroups.length - tailGroups.length;
  const groups = tail === undefined ? headGroups : [...headGroups, ...Array(Math.max(missing, 0)).fill('0'), ...tailGroups];
  return groups.map((g) => (g.includes('.') ? g : Number.parseInt(g || '0', 16).toString(16)));
}
