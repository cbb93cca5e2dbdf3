import { test } from "node:test";
import assert from "node:assert/strict";
import { BodySource } from "../../core/body.ts";
import { concat } from "../../core/records.ts";

const tick = () => new Promise<void>((r) => setImmediate(r));
const bytes = (n: number, v = 1) => new Uint8Array(n).fill(v);

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const c of stream) chunks.push(c);
  return concat(chunks);
}

test("push returns true below highWaterMark and false once highWaterMark bytes are queued", async () => {
  const body = new BodySource(10, -1, () => {});
  await tick();
  assert.equal(body.push(bytes(4)), true);
  assert.equal(body.push(bytes(5)), true); // 9 queued
  assert.equal(body.push(bytes(1)), false); // 10 queued
  assert.equal(body.push(bytes(3)), false); // 13 queued
});

test("onDrain fires when the consumer reads after push answered false", async () => {
  let drains = 0;
  const body = new BodySource(8, -1, () => drains++);
  await tick();
  const initial = drains; // the stream may pull once at start
  assert.equal(body.push(bytes(8)), false);
  await tick();
  assert.equal(drains, initial, "no drain while the queue is full");
  const reader = body.stream.getReader();
  const r = await reader.read();
  assert.equal(r.value!.length, 8);
  await tick();
  assert.ok(drains > initial, "drain after the consumer read");
});

test("a body with no declared length ends cleanly with end()", async () => {
  const body = new BodySource(1024, -1, () => {});
  body.push(new Uint8Array([1, 2]));
  body.push(new Uint8Array([3]));
  body.end();
  assert.equal(body.done, true);
  assert.deepEqual([...(await readAll(body.stream))], [1, 2, 3]);
});

test("F40/F37: exactly the declared length ends cleanly", async () => {
  const body = new BodySource(1024, 5, () => {});
  body.push(bytes(2));
  body.push(bytes(3));
  body.end();
  assert.equal((await readAll(body.stream)).length, 5);
});

test("F40: end() with fewer bytes than declared errors the stream", async () => {
  const body = new BodySource(1024, 10, () => {});
  body.push(bytes(4));
  body.end();
  assert.equal(body.done, true);
  await assert.rejects(readAll(body.stream), /truncated: 4 of 10/);
});

test("F40: an empty body when a length was declared errors the stream", async () => {
  const body = new BodySource(1024, 3, () => {});
  body.end();
  await assert.rejects(readAll(body.stream), /truncated/);
});

test("F37: more bytes than declared errors the stream", async () => {
  const body = new BodySource(1024, 4, () => {});
  assert.equal(body.push(bytes(3)), true);
  assert.equal(body.push(bytes(2)), true); // 5 > 4: errored, input not paused
  assert.equal(body.done, true);
  body.end(); // no effect once errored
  await assert.rejects(readAll(body.stream), /longer than CONTENT_LENGTH 4/);
});

test("discard(): drops what is queued and what still arrives, and calls onDrain", async () => {
  let drains = 0;
  const body = new BodySource(4, -1, () => drains++);
  await tick();
  const before = drains;
  assert.equal(body.push(bytes(8)), false);
  body.discard();
  assert.equal(body.cancelled, true);
  assert.equal(body.done, true);
  assert.equal(drains, before + 1);
  assert.equal(body.push(bytes(100)), true, "input keeps flowing (and is dropped)");
  body.end();
  await assert.rejects(body.stream.getReader().read(), /already sent/);
});

test("consumer cancel: further input is dropped, push answers true, onDrain is called", async () => {
  let drains = 0;
  const body = new BodySource(4, -1, () => drains++);
  await tick();
  const before = drains;
  assert.equal(body.push(bytes(4)), false);
  await body.stream.cancel();
  assert.equal(body.cancelled, true);
  assert.equal(body.done, true);
  assert.ok(drains > before);
  assert.equal(body.push(bytes(4)), true);
  assert.doesNotThrow(() => body.end());
});

test("error(): errors the stream once; later calls are ignored", async () => {
  const body = new BodySource(16, -1, () => {});
  body.error(new Error("first"));
  body.error(new Error("second"));
  body.end();
  await assert.rejects(readAll(body.stream), /first/);
});

test("the stream is made on first use with what was queued, then takes the rest", async () => {
  const body = new BodySource(1024, 6, () => {});
  body.push(new Uint8Array([1, 2]));
  body.push(new Uint8Array([3]));
  const stream = body.stream;
  assert.equal(body.stream, stream, "made once");
  body.push(new Uint8Array([4, 5, 6]));
  body.end();
  assert.deepEqual([...(await readAll(stream))], [1, 2, 3, 4, 5, 6]);
  assert.equal(body.collect(), null, "a body read as a stream is not collected");
});

test("collect(): the whole body in one buffer of its own, at once when it has all arrived", async () => {
  const chunk = new Uint8Array([9, 1, 2, 3, 9]);
  const body = new BodySource(1024, 5, () => {});
  body.push(chunk.subarray(1, 4)); // a view of a read: not handed out as it is
  body.push(new Uint8Array([4, 5]));
  body.end();
  const all = await body.collect()!;
  assert.deepEqual([...all], [1, 2, 3, 4, 5]);
  assert.equal(all.byteLength, all.buffer.byteLength);
  assert.equal(body.collect(), null, "once");
  const one = new BodySource(1024, 3, () => {});
  one.push(chunk.subarray(1, 4));
  one.end();
  const view = await one.collect()!;
  assert.notEqual(view.buffer, chunk.buffer, "a single view is copied");
  assert.deepEqual([...view], [1, 2, 3]);
  const copied = new BodySource(1024, 3, () => {}, 16);
  copied.push(chunk.subarray(1, 4)); // copied at push (a reused read buffer): handed out as that copy
  copied.end();
  assert.deepEqual([...(await copied.collect()!)], [1, 2, 3]);
});

test("collect() before the end: resumes the connection, takes the rest without backpressure, resolves at the end", async () => {
  let drains = 0;
  const body = new BodySource(4, -1, () => drains++);
  assert.equal(body.push(bytes(4, 1)), false, "full: the connection pauses");
  const all = body.collect()!;
  assert.equal(drains, 1, "the consumer takes everything: read on");
  assert.equal(body.push(bytes(100, 2)), true, "no pause while collecting");
  let settled = false;
  all.then(() => (settled = true));
  await tick();
  assert.equal(settled, false);
  body.end();
  const b = await all;
  assert.equal(b.length, 104);
  assert.deepEqual([b[0], b[3], b[4], b[103]], [1, 1, 2, 2]);
});

test("collect(): a truncated, overlong or failed body rejects, before or after the call", async () => {
  const truncated = new BodySource(1024, 10, () => {});
  const waiting = truncated.collect()!;
  truncated.push(bytes(4));
  truncated.end();
  await assert.rejects(waiting, /truncated: 4 of 10/);
  const overlong = new BodySource(1024, 2, () => {});
  overlong.push(bytes(3));
  await assert.rejects(overlong.collect()!, /longer than CONTENT_LENGTH 2/);
  const aborted = new BodySource(1024, -1, () => {});
  const pending = aborted.collect()!;
  aborted.error(new DOMException("gone", "AbortError"));
  await assert.rejects(pending, { name: "AbortError" });
  const late = new BodySource(1024, -1, () => {});
  late.push(bytes(2));
  late.discard(); // the response went out before the body ended
  await assert.rejects(late.collect()!, /already sent/);
  const ended = new BodySource(1024, -1, () => {});
  ended.push(bytes(2));
  ended.end();
  ended.discard(); // a body that ended before the response stays readable (ctx.waitUntil)
  assert.equal((await ended.collect()!).length, 2);
});

test("pieces that are views of a larger read (a node:net Buffer) are copied, never kept as the whole read", async () => {
  const { Buffer } = await import("node:buffer");
  const read = Buffer.from("HEADERS-and-params|body-bytes|more");
  for (const copyUpTo of [0, Infinity]) {
    // collect(): one piece not copied at push is copied at the end, and must be the piece alone
    const whole = new BodySource(1024, -1, () => {}, copyUpTo);
    whole.push(read.subarray(19, 29));
    whole.end();
    const got = await whole.collect();
    assert.ok(got);
    assert.equal(got.byteLength, 10);
    assert.equal(got.buffer.byteLength, 10, "a buffer of its own, not the read around it");
    assert.equal(Object.getPrototypeOf(got), Uint8Array.prototype);
  }
  // a piece copied at push is a plain Uint8Array of its own
  const streamed = new BodySource(1024, -1, () => {}, Infinity);
  streamed.push(read.subarray(19, 29));
  streamed.end();
  const chunk = (await streamed.stream.getReader().read()).value!;
  assert.equal(chunk.buffer.byteLength, 10);
});
