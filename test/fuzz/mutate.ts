// Mutators: each breaks a valid record stream in one way a broken or hostile front could. Record
// mutators edit the list of records (header fields, order, copies); byte mutators edit the joined
// bytes. Every mutator is a pure function of the Rng, so a case replays from its seed.

import { T } from "../lib/fcgi.ts";
import { rec } from "./generate.ts";
import type { Rng } from "./rng.ts";

type RecordMutator = (records: Uint8Array[], rng: Rng) => Uint8Array[];
type ByteMutator = (bytes: Uint8Array, rng: Rng) => Uint8Array;

const copy = (b: Uint8Array) => new Uint8Array(b);
const at = (list: unknown[], rng: Rng) => rng.int(list.length + 1);

/** Applies `edit` to a copy of one random record. */
function editOne(records: Uint8Array[], rng: Rng, edit: (r: Uint8Array) => Uint8Array | void): Uint8Array[] {
  if (!records.length) return records;
  const out = [...records];
  const i = rng.int(out.length);
  const r = copy(out[i]);
  out[i] = edit(r) ?? r;
  return out;
}

function idsOf(records: Uint8Array[]): number[] {
  return [...new Set(records.map((r) => (r[2] << 8) | r[3]))];
}

/** A 4-byte name-value length (F18), near 2^31 or near the worker's limits. */
function hostileLength(rng: Rng): Uint8Array {
  const n = rng.pick([
    0x7fffffff,
    0x7ffffffe,
    0x7ffffff8,
    0x40000000,
    0x10000,
    0xffff,
    8192,
    8193,
    32768,
    32769,
    rng.int(2 ** 31),
  ]);
  return Uint8Array.of((n >>> 24) | 0x80, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
}

export const recordMutators: Record<string, RecordMutator> = {
  swap(records, rng) {
    const out = [...records];
    if (out.length < 2) return out;
    const i = rng.int(out.length);
    const j = rng.int(out.length);
    [out[i], out[j]] = [out[j], out[i]];
    return out;
  },
  shuffle(records, rng) {
    const out = [...records];
    for (let i = out.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
  },
  duplicate(records, rng) {
    if (!records.length) return records;
    const out = [...records];
    out.splice(at(out, rng), 0, rng.pick(records));
    return out;
  },
  drop(records, rng) {
    const out = [...records];
    out.splice(rng.int(out.length), 1);
    return out;
  },
  /** The header lies about the content length: the rest of the stream is read out of step. */
  length: (records, rng) =>
    editOne(records, rng, (r) => {
      const real = (r[4] << 8) | r[5];
      const n = rng.pick([0, 0xffff, real + 1, Math.max(0, real - 1), rng.int(0x10000)]) & 0xffff;
      r[4] = n >> 8;
      r[5] = n & 0xff;
    }),
  type: (records, rng) =>
    editOne(records, rng, (r) => {
      r[1] = rng.chance(0.5) ? rng.range(0, 12) : rng.int(256);
    }),
  version: (records, rng) =>
    editOne(records, rng, (r) => {
      r[0] = rng.pick([0, 2, 255, rng.int(256)]);
    }),
  id: (records, rng) =>
    editOne(records, rng, (r) => {
      const id = rng.pick([0, 1, 2, 0xffff, rng.int(0x10000), ...idsOf(records)]);
      r[2] = id >> 8;
      r[3] = id & 0xff;
    }),
  /** Padding announced but not sent (desync), or padding really added. */
  padding: (records, rng) =>
    editOne(records, rng, (r) => {
      if (rng.chance(0.5)) {
        r[6] = rng.int(256);
        return;
      }
      const extra = rng.int(256 - r[6]); // real padding bytes, on top of what the header already says
      const out = new Uint8Array(r.length + extra).fill(0xa5);
      out.set(r);
      out[6] = r[6] + extra;
      return out;
    }),
  reserved: (records, rng) =>
    editOne(records, rng, (r) => {
      r[7] = rng.int(256);
    }),
  /** A well-formed record of any type and id, with any content. */
  inject(records, rng) {
    const out = [...records];
    const id = rng.pick([0, 1, rng.int(0x10000), ...idsOf(records)]);
    out.splice(at(out, rng), 0, rec(rng.int(256), id, rng.bytes(rng.size(0xffff)), rng.chance(0.2) ? rng.int(256) : 0));
    return out;
  },
  /** An early empty record: a stream ends before its content does. */
  endStream(records, rng) {
    const out = [...records];
    out.splice(at(out, rng), 0, rec(rng.pick([T.PARAMS, T.STDIN, T.DATA]), rng.pick(idsOf(records).concat(1))));
    return out;
  },
  abort(records, rng) {
    const out = [...records];
    out.splice(at(out, rng), 0, rec(T.ABORT, rng.pick(idsOf(records).concat(1, 0))));
    return out;
  },
  /** BEGIN_REQUEST again for an id (G2), or with a short body. */
  begin(records, rng) {
    const out = [...records];
    const body = rng.chance(0.3)
      ? rng.bytes(rng.int(8))
      : Uint8Array.of(0, rng.pick([1, 2, 3, 0, 9]), rng.int(2), 0, 0, 0, 0, 0);
    out.splice(at(out, rng), 0, rec(T.BEGIN, rng.pick(idsOf(records).concat(1)), body));
    return out;
  },
  /** A PARAMS record carrying a pair whose length is near 2^31 or the limits (F20, CVE-2025-23016). */
  hugePair(records, rng) {
    const out = [...records];
    const id = rng.pick(idsOf(records).concat(1));
    const asValue = rng.chance(0.5);
    const content = Uint8Array.from([
      ...(asValue ? [4] : hostileLength(rng)),
      ...(asValue ? hostileLength(rng) : [1]),
      ...rng.bytes(rng.size(2000)),
    ]);
    const params = out.findIndex((r) => r[1] === T.PARAMS);
    out.splice(params >= 0 && rng.chance(0.7) ? params : at(out, rng), 0, rec(T.PARAMS, id, content));
    return out;
  },
  /** A record with the largest content there is (0xFFFF), of a random stream or discrete type. */
  maxContent(records, rng) {
    const out = [...records];
    const type = rng.pick([T.PARAMS, T.STDIN, T.DATA, T.BEGIN, T.GET_VALUES, T.ABORT, rng.int(256)]);
    const id = type === T.GET_VALUES ? 0 : rng.pick(idsOf(records).concat(1));
    out.splice(at(out, rng), 0, rec(type, id, rng.bytes(0xffff), rng.chance(0.3) ? 255 : 0));
    return out;
  },
};

export const byteMutators: Record<string, ByteMutator> = {
  bitflip(bytes, rng) {
    const out = copy(bytes);
    for (let k = rng.range(1, 8); k > 0 && out.length; k--) out[rng.int(out.length)] ^= 1 << rng.int(8);
    return out;
  },
  overwrite(bytes, rng) {
    const out = copy(bytes);
    for (let k = rng.range(1, 16); k > 0 && out.length; k--) {
      out[rng.int(out.length)] = rng.pick([0, 1, 0x7f, 0x80, 0xff, rng.int(256)]);
    }
    return out;
  },
  truncate: (bytes, rng) => bytes.slice(0, rng.int(bytes.length + 1)),
  garbage(bytes, rng) {
    const i = rng.int(bytes.length + 1);
    return new Uint8Array(Buffer.concat([bytes.subarray(0, i), rng.bytes(rng.range(1, 200)), bytes.subarray(i)]));
  },
  append: (bytes, rng) => new Uint8Array(Buffer.concat([bytes, rng.bytes(rng.range(1, 5000))])),
};

const recordNames = Object.keys(recordMutators);
const byteNames = Object.keys(byteMutators);

/** Applies `count` random mutators; returns the bytes and the names of what was done. */
export function mutate(records: Uint8Array[], count: number, rng: Rng): { bytes: Uint8Array; applied: string[] } {
  const applied: string[] = [];
  let list = records;
  const byteSteps: string[] = [];
  for (let k = 0; k < count; k++) {
    // Record-level first (they need record boundaries), then byte-level on the joined stream.
    if (rng.chance(0.65)) {
      const name = rng.pick(recordNames);
      list = recordMutators[name](list, rng);
      applied.push(name);
    } else byteSteps.push(rng.pick(byteNames));
  }
  let bytes: Uint8Array = Buffer.concat(list);
  for (const name of byteSteps) {
    bytes = byteMutators[name](bytes, rng);
    applied.push(name);
  }
  return { bytes: new Uint8Array(bytes), applied };
}
