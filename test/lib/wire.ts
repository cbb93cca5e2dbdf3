// A strict, whole-buffer FastCGI record reader written apart from the core, so tests can check
// what the core encodes and what a worker writes without trusting the core's own parser.

export interface WireRecord {
  version: number;
  type: number;
  id: number;
  content: Uint8Array;
  padding: Uint8Array;
  reserved: number;
}

/** Splits `bytes` into whole records; `rest` is a trailing partial record (empty if none). */
export function readRecords(bytes: Uint8Array): { records: WireRecord[]; rest: Uint8Array } {
  const records: WireRecord[] = [];
  let i = 0;
  while (bytes.length - i >= 8) {
    const length = (bytes[i + 4] << 8) | bytes[i + 5];
    const pad = bytes[i + 6];
    if (bytes.length - i < 8 + length + pad) break;
    records.push({
      version: bytes[i],
      type: bytes[i + 1],
      id: (bytes[i + 2] << 8) | bytes[i + 3],
      content: bytes.slice(i + 8, i + 8 + length),
      padding: bytes.slice(i + 8 + length, i + 8 + length + pad),
      reserved: bytes[i + 7],
    });
    i += 8 + length + pad;
  }
  return { records, rest: bytes.slice(i) };
}

/** Reads one name-value length (F18) at `i`: [length, bytes used], or null when cut short. */
export function readLength(b: Uint8Array, i: number): [number, number] | null {
  if (i >= b.length) return null;
  if (b[i] < 0x80) return [b[i], 1];
  if (i + 4 > b.length) return null;
  return [((b[i] & 0x7f) * 2 ** 24) + b[i + 1] * 2 ** 16 + b[i + 2] * 2 ** 8 + b[i + 3], 4];
}

/** Decodes a whole buffer of pairs as raw bytes; throws on a truncated pair. */
export function readPairs(b: Uint8Array): [Uint8Array, Uint8Array][] {
  const out: [Uint8Array, Uint8Array][] = [];
  let i = 0;
  while (i < b.length) {
    const n = readLength(b, i);
    if (!n) throw new Error(`truncated name length at ${i}`);
    const v = readLength(b, i + n[1]);
    if (!v) throw new Error(`truncated value length at ${i}`);
    const start = i + n[1] + v[1];
    if (start + n[0] + v[0] > b.length) throw new Error(`truncated pair at ${i}`);
    out.push([b.slice(start, start + n[0]), b.slice(start + n[0], start + n[0] + v[0])]);
    i = start + n[0] + v[0];
  }
  return out;
}
