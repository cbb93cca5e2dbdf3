import { test } from "node:test";
import assert from "node:assert/strict";
import { giveBack, lend } from "../../core/pool.ts";

const KiB = 1024;
const MiB = 1024 * KiB;

test("pool: sizes from 16 KiB to 4 MiB, in power-of-two buffers; others are not pooled", () => {
  assert.equal(lend(16 * KiB - 1), null);
  assert.equal(lend(4 * MiB + 1), null);
  for (const [n, size] of [[16 * KiB, 16 * KiB], [16 * KiB + 1, 32 * KiB], [256 * KiB, 256 * KiB], [300000, 512 * KiB], [4 * MiB, 4 * MiB]]) {
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

test("pool: buffers it did not lend are ignored, and it keeps at most 16 MiB free", () => {
  const foreign = new Uint8Array(64 * KiB);
  giveBack(foreign);
  assert.notEqual(lend(64 * KiB)!.buffer, foreign.buffer);
  const lent = Array.from({ length: 40 }, () => lend(1 * MiB)!);
  for (const v of lent) giveBack(v);
  const back = new Set(lent.map((v) => v.buffer));
  let reused = 0;
  for (let i = 0; i < 40; i++) if (back.has(lend(1 * MiB)!.buffer)) reused++;
  assert.equal(reused, 16);
});
