import { test } from "node:test";
import assert from "node:assert/strict";
import { giveBack, lend } from "../../core/pool.ts";

const KiB = 1024;
const MiB = 1024 * KiB;

test("pool: sizes from 4 KiB to 4 MiB, in buffers of 2^k and 1.5 × 2^k bytes; others are not pooled", () => {
  assert.equal(lend(4 * KiB - 1), null);
  assert.equal(lend(4 * MiB + 1), null);
  for (
    const [n, size] of [
      [4 * KiB, 4 * KiB],
      [4 * KiB + 1, 6 * KiB],
      [6 * KiB, 6 * KiB],
      [6 * KiB + 1, 8 * KiB],
      [16 * KiB, 16 * KiB],
      [16 * KiB + 1, 24 * KiB],
      [256 * KiB, 256 * KiB],
      [256 * KiB + 1, 384 * KiB],
      [300000, 384 * KiB],
      [384 * KiB + 1, 512 * KiB],
      [3 * MiB + 1, 4 * MiB],
      [4 * MiB, 4 * MiB],
    ]
  ) {
    const v = lend(n)!;
    assert.equal(v.length, n);
    assert.equal(v.byteOffset, 0);
    assert.equal(v.buffer.byteLength, size);
  }
});

test("pool: a buffer given back is lent again, once, and only for its own size", () => {
  const a = lend(100 * KiB)!;
  giveBack(a);
  giveBack(a); // a second give-back (a bug) must not put it in the pool twice
  assert.equal(lend(40 * KiB)!.buffer === a.buffer, false, "another size class");
  const b = lend(120 * KiB)!;
  assert.equal(b.buffer, a.buffer);
  assert.notEqual(lend(120 * KiB)!.buffer, a.buffer);
});

test("pool: buffers it did not lend are ignored, and it keeps at most 24 MiB free", () => {
  const foreign = new Uint8Array(64 * KiB);
  giveBack(foreign);
  assert.notEqual(lend(64 * KiB)!.buffer, foreign.buffer);
  const lent = Array.from({ length: 40 }, () => lend(1 * MiB)!);
  for (const v of lent) giveBack(v);
  const back = new Set(lent.map((v) => v.buffer));
  let reused = 0;
  for (let i = 0; i < 40; i++) if (back.has(lend(1 * MiB)!.buffer)) reused++;
  assert.equal(reused, 24);
});

test("pool: a size that filled the free budget gives way to the sizes in use now", () => {
  const big = Array.from({ length: 30 }, () => lend(1 * MiB)!);
  for (const v of big) giveBack(v); // 24 MiB of 1 MiB buffers kept
  const seen = new Set<ArrayBufferLike>();
  let reused = 0;
  for (let i = 0; i < 50; i++) {
    const v = lend(128 * KiB)!;
    if (seen.has(v.buffer)) reused++;
    seen.add(v.buffer);
    giveBack(v);
  }
  assert.equal(reused, 49, "128 KiB buffers given back must be kept, in place of 1 MiB ones");
  assert.ok(big.some((v) => lend(1 * MiB)!.buffer === v.buffer), "the 1 MiB buffers are not all gone");
});
