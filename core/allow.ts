// Allowed clients (FCGI_WEB_SERVER_ADDRS, F6, G6): the addresses a TCP peer may connect from, as IPs
// or CIDR ranges, IPv4 and IPv6. An IPv4-mapped IPv6 peer (::ffff:10.0.0.1, what a dual-stack
// socket reports) matches the IPv4 entries.

interface Range {
  bytes: Uint8Array;
  bits: number;
}

/** Parses a dotted IPv4 or an IPv6 address to 4 or 16 bytes; null when it is neither. */
export function parseIp(text: string): Uint8Array | null {
  if (text.includes(":")) return parseV6(text);
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    if (!/^\d{1,3}$/.test(parts[i]) || Number(parts[i]) > 255) return null;
    out[i] = Number(parts[i]);
  }
  return out;
}

function parseV6(text: string): Uint8Array | null {
  const zone = text.indexOf("%");
  if (zone >= 0) text = text.slice(0, zone);
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const groups = (s: string): number[] | null => {
    if (s === "") return [];
    const out: number[] = [];
    const parts = s.split(":");
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i];
      if (i === parts.length - 1 && p.includes(".")) {
        const v4 = parseIp(p);
        if (!v4) return null;
        out.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(p)) out.push(parseInt(p, 16));
      else return null;
    }
    return out;
  };
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  if (!head || !tail) return null;
  const fill = 8 - head.length - tail.length;
  if (halves.length === 2 ? fill < 1 : fill !== 0) return null;
  const all = [...head, ...new Array<number>(fill).fill(0), ...tail];
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

/** The IPv4 address inside an IPv4-mapped IPv6 one, else the address itself. */
function unmap(ip: Uint8Array): Uint8Array {
  if (ip.length !== 16) return ip;
  for (let i = 0; i < 10; i++) if (ip[i] !== 0) return ip;
  return ip[10] === 0xff && ip[11] === 0xff ? ip.subarray(12) : ip;
}

function parseRange(entry: string): Range {
  const [ip, prefix, extra] = entry.trim().split("/");
  const bytes = parseIp(ip);
  const max = bytes ? bytes.length * 8 : 0;
  const bits = prefix === undefined ? max : /^\d{1,3}$/.test(prefix) ? Number(prefix) : -1;
  if (!bytes || extra !== undefined || bits < 0 || bits > max) {
    throw new TypeError(
      `fetchcgi: bad allowed client ${
        JSON.stringify(entry)
      }: expected an IPv4 or IPv6 address, optionally with /PREFIX (e.g. 10.0.0.0/8, ::1)`,
    );
  }
  return {
    bytes: unmap(bytes),
    bits: bytes.length === 16 && unmap(bytes).length === 4 ? Math.max(0, bits - 96) : bits,
  };
}

function inRange(ip: Uint8Array, r: Range): boolean {
  if (ip.length !== r.bytes.length) return false;
  let bits = r.bits;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((ip[i] & mask) !== (r.bytes[i] & mask)) return false;
  }
  return true;
}

/** A predicate for the peer addresses allowed by `entries` (IPs and CIDRs); throws on a malformed entry. */
export function allowList(entries: readonly string[]): (address: string) => boolean {
  const ranges = entries.filter((e) => e.trim() !== "").map(parseRange);
  if (ranges.length === 0) {
    throw new TypeError("fetchcgi: the allowed clients list is empty: it would refuse every TCP client");
  }
  return (address) => {
    const ip = parseIp(address);
    if (!ip) return false;
    const plain = unmap(ip);
    return ranges.some((r) => inRange(plain, r));
  };
}
