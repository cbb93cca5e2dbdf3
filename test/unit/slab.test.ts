import { test } from "node:test";
import assert from "node:assert/strict";
import { cut, encodeText, MAX_CUT, trim, uncut } from "../../core/slab.ts";

const utf8 = new TextEncoder();
const SLAB = 32 * 1024; // slab.ts's SLAB_SIZE

/** Starts a new slab: MAX_CUT-byte cuts until one opens a slab; 28 KiB of it are left for the next cuts. */
function freshSlab(): void {
  while (cut(MAX_CUT).byteOffset !== 0);
}

/** Asserts that `b` was cut from the same slab as `a`. */
function sameSlab(a: Uint8Array, b: Uint8Array): void {
  assert.ok(a.buffer === b.buffer, "the two cuts are in different slabs");
  assert.equal(a.buffer.byteLength, SLAB);
}

test("slab: cuts never overlap, across slab boundaries too, and bytes written stay as written", () => {
  const views: [Uint8Array, number][] = [];
  for (let i = 0; i < 5000; i++) {
    const n = 1 + ((i * 37) % 700);
    const v = cut(n);
    assert.equal(v.length, n);
    v.fill(i & 0xff);
    views.push([v, i & 0xff]);
  }
  for (const [v, byte] of views) assert.ok(v.every((b) => b === byte), "a later cut overwrote an earlier one");
  // And they share slabs: 5000 cuts of 350 bytes on average fill about 54 slabs of 32 KiB, not 5000 buffers.
  const slabs = new Set(views.map(([v]) => v.buffer));
  const bytes = views.reduce((n, [v]) => n + v.length, 0);
  assert.ok(slabs.size <= Math.ceil(bytes / (SLAB - 700)) + 1, `${views.length} cuts in ${slabs.size} buffers`);
  for (const b of slabs) assert.equal(b.byteLength, SLAB);
});

test("slab: large buffers get their own allocation", () => {
  const v = cut(64 * 1024);
  assert.equal(v.length, 64 * 1024);
  assert.equal(v.byteOffset, 0);
  assert.equal(v.buffer.byteLength, 64 * 1024);
});

test("slab: encodeText is TextEncoder.encode, and its unused reserve goes to the next cut", () => {
  const texts = [
    "",
    "Hello, World!",
    "é€😀 mixed ascii",
    "\ud800 lone surrogate",
    "x".repeat(1500),
    "€".repeat(1400),
    "y".repeat(5000),
  ];
  const kept: [Uint8Array, Uint8Array][] = [];
  for (let round = 0; round < 40; round++) {
    for (const t of texts) kept.push([encodeText(t), utf8.encode(t)]);
  }
  for (const [got, want] of kept) assert.deepEqual([...got], [...want]);
  freshSlab();
  const a = encodeText("abc");
  const b = cut(4);
  sameSlab(a, b);
  assert.equal(b.byteOffset, a.byteOffset + 3, "the 6 unused bytes of a's reserve were handed back");
});

test("slab: trim and uncut give back only the latest cut's bytes, once", () => {
  freshSlab();
  const a = cut(100);
  const b = trim(a, 40);
  assert.equal(b.length, 40);
  assert.equal(b.byteOffset, a.byteOffset);
  const c = cut(10);
  sameSlab(a, c);
  assert.equal(c.byteOffset, a.byteOffset + 40, "a's 60 unused bytes went to the next cut");
  trim(a, 0); // a is no longer the latest cut: nothing goes back
  const d = cut(10);
  sameSlab(c, d);
  assert.equal(d.byteOffset, c.byteOffset + 10, "c stays cut");
  uncut(d);
  uncut(d); // once only
  const e = cut(10);
  sameSlab(d, e);
  assert.equal(e.byteOffset, d.byteOffset, "d went back whole");
  const f = cut(5);
  sameSlab(e, f);
  assert.equal(f.byteOffset, e.byteOffset + 10, "a second uncut of d gave back nothing of e");
});
