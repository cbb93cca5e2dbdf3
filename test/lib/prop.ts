// Shared settings and arbitraries for the fast-check property tests. FUZZ_RUNS sets the runs per
// property (small by default so the suite stays fast); FUZZ_SEED replays the seed a failure printed.

import fc from "fast-check";

export const RUNS: number = Number(process.env.FUZZ_RUNS ?? 150);

function params(runs: number): fc.Parameters<unknown> {
  const seed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;
  return { numRuns: Math.max(1, Math.round(runs)), ...(seed === undefined ? {} : { seed }) };
}

/** fc.assert with the suite's run count and, when given, the replay seed. */
export function check<T>(property: fc.IProperty<T>, runs: number = RUNS): void {
  fc.assert(property, params(runs));
}

export function checkAsync<T>(property: fc.IAsyncProperty<T>, runs: number = RUNS): Promise<void> {
  return fc.assert(property, params(runs));
}

/**
 * Cut points for a buffer of any length, as fractions so one value fits every length. "bytes" cuts
 * everywhere: the harshest split, drawn often enough to always be tried.
 */
export const splits: fc.Arbitrary<number[] | "bytes"> = fc.oneof(
  { weight: 1, arbitrary: fc.constant("bytes" as const) },
  { weight: 6, arbitrary: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 24 }) },
);

/** `b` cut into pieces at `cuts` (empty pieces are dropped: a socket never hands one out). */
export function split(b: Uint8Array, cuts: number[] | "bytes"): Uint8Array[] {
  if (cuts === "bytes") {
    // Byte by byte; past 8 KiB only at both ends, so a 64 KiB record costs thousands of calls, not 65535.
    const ones = (from: number, to: number) =>
      Array.from({ length: to - from }, (_, i) => b.subarray(from + i, from + i + 1));
    if (b.length <= 8192) return ones(0, b.length);
    return [...ones(0, 4096), b.subarray(4096, b.length - 4096), ...ones(b.length - 4096, b.length)];
  }
  const at = [...new Set(cuts.map((f) => Math.floor(f * b.length)))].sort((x, y) => x - y);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const c of [...at, b.length]) {
    if (c > prev) out.push(b.subarray(prev, c));
    prev = c;
  }
  return out;
}

/** Deterministic bytes: big contents from two small numbers instead of a huge generated array. */
export function fill(n: number, seed: number, mask = 0xff): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed | 1;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = (x >>> 16) & mask;
  }
  return b;
}

/** Lengths that matter to the codecs: the 1/4-byte prefix edge, record size edges, and small ones. */
export const edgeLength: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(0, 1, 126, 127, 128, 129, 255, 256, 0xfffe, 0xffff, 0x10000, 0x1ffff),
  fc.nat(300),
);

/** Any Unicode scalar value, with U+FEFF and the UTF-8 width edges drawn often. */
export const scalar: fc.Arbitrary<string> = fc.oneof(
  fc.integer({ min: 0, max: 0x7f }),
  fc.constantFrom(0x80, 0x7ff, 0x800, 0xfeff, 0xffff, 0x10000, 0x10ffff),
  fc.integer({ min: 0x80, max: 0xd7ff }),
  fc.integer({ min: 0xe000, max: 0x10ffff }),
).map((c) => String.fromCodePoint(c));
