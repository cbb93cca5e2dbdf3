// runtimes/write-queue.ts, the queue the Bun and Deno adapters share, driven as a socket that takes
// part of a chunk would drive it. The adapters over real sockets: test/flush.test.ts,
// test/transports.test.ts, test/bodies.test.ts.

import assert from "node:assert/strict";
import { test } from "node:test";
import { WriteQueue } from "../../runtimes/write-queue.ts";

const bytes = (n: number, fill = 1): Uint8Array => new Uint8Array(n).fill(fill);

test("chunks leave in order; a partial write leaves the rest first; `bytes` falls as they go; each `sent` once, when all of its chunk went", () => {
  const q = new WriteQueue();
  const sent: string[] = [];
  q.push(bytes(10, 1), () => sent.push("a"));
  q.push(bytes(5, 2), undefined);
  q.push(bytes(3, 3), () => sent.push("c"));
  assert.equal(q.bytes, 18);
  assert.equal(q.took(4), false);
  assert.equal(q.bytes, 14);
  assert.deepEqual([q.first.length, q.first[0]], [6, 1]);
  assert.deepEqual(sent, []);
  assert.equal(q.took(6), true);
  assert.deepEqual(sent, ["a"]);
  assert.deepEqual([q.first.length, q.first[0]], [5, 2]);
  assert.equal(q.took(5), true);
  assert.equal(q.took(0), false, "a write that took nothing keeps the chunk");
  assert.equal(q.took(3), true);
  assert.deepEqual(sent, ["a", "c"]);
  assert.equal(q.empty, true);
  assert.equal(q.bytes, 0);
});

test("every writer gets the same promise, settled by notifyDrained; then a new one", async () => {
  const q = new WriteQueue();
  const first = q.whenDrained();
  assert.equal(q.whenDrained(), first);
  let settled = false;
  first.then(() => (settled = true));
  q.notifyDrained();
  await first;
  assert.equal(settled, true);
  assert.notEqual(q.whenDrained(), first);
  q.notifyDrained(); // with nobody waiting: nothing to do
});

test("clear() drops what is queued without calling `sent`, lets a writer go, and a write op that finishes after it counts nothing", async () => {
  const q = new WriteQueue();
  let called = false;
  q.push(bytes(100), () => (called = true));
  const waiting = q.whenDrained();
  q.clear();
  await waiting;
  assert.equal(q.empty, true);
  assert.equal(q.bytes, 0);
  assert.equal(q.took(100), false);
  assert.equal(q.bytes, 0);
  assert.equal(called, false);
});
