import { test } from "node:test";
import assert from "node:assert/strict";
import { Channel, sourceOf } from "../../core/channel.ts";

test("push before next(): items come out in order", async () => {
  const c = new Channel<number>();
  c.push(1);
  c.push(2);
  assert.deepEqual(await c.next(), { value: 1, done: false });
  assert.deepEqual(await c.next(), { value: 2, done: false });
});

test("push after next(): the pending next() resolves with the item", async () => {
  const c = new Channel<string>();
  const p = c.next();
  let settled = false;
  p.then(() => (settled = true));
  await Promise.resolve();
  assert.equal(settled, false);
  c.push("a");
  assert.deepEqual(await p, { value: "a", done: false });
  c.push("b");
  assert.deepEqual(await c.next(), { value: "b", done: false });
});

test("delivering: true only while a sink waits, not for a pending next() (its item is used later)", async () => {
  const c = new Channel<number>();
  assert.equal(c.delivering, false);
  const p = c.next();
  assert.equal(c.delivering, false);
  c.push(1);
  assert.deepEqual(await p, { value: 1, done: false });
  const paused = c.deliver(() => false);
  assert.equal(c.delivering, true);
  c.push(2);
  assert.equal(await paused, true);
  assert.equal(c.delivering, false);
  c.push(3); // queued
  assert.equal(c.delivering, false);
  const ended = c.deliver(() => true);
  assert.equal(c.delivering, true);
  c.end();
  assert.equal(await ended, false);
  assert.equal(c.delivering, false);
});

test("end(): queued items are delivered, then done (and done stays done)", async () => {
  const c = new Channel<number>();
  c.push(1);
  c.push(2);
  c.end();
  c.push(3); // ignored after end
  assert.deepEqual(await c.next(), { value: 1, done: false });
  assert.deepEqual(await c.next(), { value: 2, done: false });
  assert.deepEqual(await c.next(), { value: undefined, done: true });
  assert.deepEqual(await c.next(), { value: undefined, done: true });
});

test("end(): resolves a pending next() with done", async () => {
  const c = new Channel<number>();
  const p = c.next();
  c.end();
  assert.deepEqual(await p, { value: undefined, done: true });
});

test("fail(): rejects after the queued items", async () => {
  const c = new Channel<number>();
  const err = new Error("boom");
  c.push(1);
  c.fail(err);
  c.push(2); // ignored
  c.end(); // no effect after fail
  assert.deepEqual(await c.next(), { value: 1, done: false });
  await assert.rejects(c.next(), (e) => e === err);
  await assert.rejects(c.next(), (e) => e === err);
});

test("fail(): rejects a pending next()", async () => {
  const c = new Channel<number>();
  const p = c.next();
  const err = new Error("x");
  c.fail(err);
  await assert.rejects(p, (e) => e === err);
});

test("for-await drains the queue then stops at end()", async () => {
  const c = new Channel<number>();
  setTimeout(() => {
    c.push(3);
    c.end();
  }, 1);
  c.push(1);
  c.push(2);
  const seen: number[] = [];
  for await (const x of c) seen.push(x);
  assert.deepEqual(seen, [1, 2, 3]);
});

test("for-await throws the fail() error after the queued items", async () => {
  const c = new Channel<number>();
  c.push(1);
  c.fail(new Error("late"));
  const seen: number[] = [];
  await assert.rejects(async () => {
    for await (const x of c) seen.push(x);
  }, /late/);
  assert.deepEqual(seen, [1]);
});

test("onFull when the queue reaches highWater, onDrain when it falls to half", async () => {
  const calls: string[] = [];
  const c = new Channel<number>(4, { onFull: () => calls.push("full"), onDrain: () => calls.push("drain") });
  c.push(1);
  c.push(2);
  c.push(3);
  assert.deepEqual(calls, []);
  c.push(4);
  assert.deepEqual(calls, ["full"]);
  c.push(5); // still full: not called again
  assert.deepEqual(calls, ["full"]);
  await c.next(); // 4 left
  await c.next(); // 3 left
  assert.deepEqual(calls, ["full"]);
  await c.next(); // 2 left = half
  assert.deepEqual(calls, ["full", "drain"]);
  await c.next(); // 1 left: no second drain
  assert.deepEqual(calls, ["full", "drain"]);
  c.push(6);
  c.push(7);
  assert.deepEqual(calls, ["full", "drain"]);
  c.push(8); // 4 queued again
  assert.deepEqual(calls, ["full", "drain", "full"]);
});

test("with size, highWater counts what the items weigh (bytes), not how many they are", async () => {
  const calls: string[] = [];
  const c = new Channel<Uint8Array>(100, {
    size: (b) => b.length,
    onFull: () => calls.push("full"),
    onDrain: () => calls.push("drain"),
  });
  c.push(new Uint8Array(60));
  assert.deepEqual(calls, []);
  c.push(new Uint8Array(40)); // 100 bytes
  assert.deepEqual(calls, ["full"]);
  c.push(new Uint8Array(10)); // 110
  await c.next(); // 50 left = half
  assert.deepEqual(calls, ["full", "drain"]);
  c.push(new Uint8Array(200)); // one heavy item fills it at once
  assert.deepEqual(calls, ["full", "drain", "full"]);
  await c.next(); // 210 left
  await c.next(); // 200 left
  assert.deepEqual(calls, ["full", "drain", "full"]);
  await c.next(); // empty
  assert.deepEqual(calls, ["full", "drain", "full", "drain"]);
});

test("items handed straight to a waiting consumer do not count towards highWater", async () => {
  let full = 0;
  const c = new Channel<number>(1, { onFull: () => full++ });
  const p = c.next();
  c.push(1);
  assert.equal(full, 0);
  await p;
  c.push(2);
  assert.equal(full, 1);
});

test("return() calls onReturn, drops the queue and ends the channel", async () => {
  let returned = 0;
  const c = new Channel<number>(Infinity, { onReturn: () => returned++ });
  c.push(1);
  c.push(2);
  assert.deepEqual(await c.return(), { value: undefined, done: true });
  assert.equal(returned, 1);
  c.push(3);
  assert.deepEqual(await c.next(), { value: undefined, done: true });
});

test("breaking out of for-await calls onReturn", async () => {
  let returned = 0;
  const c = new Channel<number>(Infinity, { onReturn: () => returned++ });
  c.push(1);
  c.push(2);
  for await (const x of c) {
    assert.equal(x, 1);
    break;
  }
  assert.equal(returned, 1);
});

test("Symbol.asyncIterator returns the channel itself", () => {
  const c = new Channel<number>();
  assert.equal(c[Symbol.asyncIterator](), c);
});

// deliver(): the core's read path, without a promise per chunk.

test("deliver: what is queued first, then each push handed over inside the push call", async () => {
  const c = new Channel<number>();
  c.push(1);
  const seen: number[] = [];
  const done = c.deliver((x) => (seen.push(x), true));
  assert.deepEqual(seen, [1]);
  assert.equal(c.delivering, true);
  c.push(2);
  assert.deepEqual(seen, [1, 2]); // synchronously
  c.end();
  assert.equal(await done, false);
  assert.equal(c.delivering, false);
});

test("deliver: a sink returning false pauses it; later items queue (counted for backpressure) until deliver again", async () => {
  const calls: string[] = [];
  const c = new Channel<number>(2, { onFull: () => calls.push("full"), onDrain: () => calls.push("drain") });
  const seen: number[] = [];
  const take = (x: number) => (seen.push(x), x !== 1);
  const paused = c.deliver(take);
  c.push(1);
  assert.equal(await paused, true);
  assert.equal(c.delivering, false);
  c.push(2);
  c.push(3);
  assert.deepEqual(seen, [1]);
  assert.deepEqual(calls, ["full"]);
  const done = c.deliver(take);
  assert.deepEqual(seen, [1, 2, 3]);
  assert.deepEqual(calls, ["full", "drain"]);
  c.push(4);
  c.end();
  assert.equal(await done, false);
  assert.deepEqual(seen, [1, 2, 3, 4]);
});

test("deliver: after end() the queued items are handed over, then it resolves false", async () => {
  const c = new Channel<number>();
  c.push(1);
  c.push(2);
  c.end();
  const seen: number[] = [];
  assert.equal(await c.deliver((x) => (seen.push(x), true)), false);
  assert.deepEqual(seen, [1, 2]);
  assert.equal(await c.deliver(() => true), false);
});

test("deliver: end() or fail() from inside the sink settles it once the sink returns", async () => {
  const c = new Channel<number>();
  const ended = c.deliver(() => (c.end(), true));
  c.push(1);
  assert.equal(await ended, false);
  const d = new Channel<number>();
  const failed = d.deliver(() => (d.fail(new Error("gone")), false));
  d.push(1);
  await assert.rejects(failed, /gone/);
});

test("deliver: fail() rejects after the queued items", async () => {
  const c = new Channel<number>();
  c.push(1);
  c.fail(new Error("reset"));
  const seen: number[] = [];
  await assert.rejects(c.deliver((x) => (seen.push(x), true)), /reset/);
  assert.deepEqual(seen, [1]);
  const d = new Channel<number>();
  const live = d.deliver(() => true);
  d.fail(new Error("later"));
  await assert.rejects(live, /later/);
});

test("deliver: what the sink throws rejects it and stops the channel (onReturn), as a for-await body would", async () => {
  let returned = 0;
  const c = new Channel<number>(Infinity, { onReturn: () => returned++ });
  const seen: number[] = [];
  const done = c.deliver((x) => {
    seen.push(x);
    if (x === 2) throw new Error("bad record");
    return true;
  });
  c.push(1);
  c.push(2); // the pusher does not see the throw
  c.push(3);
  await assert.rejects(done, /bad record/);
  assert.deepEqual(seen, [1, 2]);
  assert.equal(returned, 1);
  assert.deepEqual(await c.next(), { value: undefined, done: true });
});

test("deliver: a push from inside the sink is handed over after it returns, in order, not re-entrantly", async () => {
  const c = new Channel<number>();
  const seen: string[] = [];
  let depth = 0;
  const done = c.deliver((x) => {
    depth++;
    seen.push(`${x}@${depth}`);
    if (x === 1) {
      assert.equal(c.delivering, false); // a view pushed now would be queued, so the adapter copies it
      c.push(2);
      c.push(3);
    }
    depth--;
    return true;
  });
  c.push(1);
  assert.deepEqual(seen, ["1@1", "2@1", "3@1"]);
  c.end();
  assert.equal(await done, false);
});

test("sourceOf: a plain async iterable is driven one item at a time; a pause keeps the iterator open", async () => {
  let returned = 0;
  const items = [1, 2, 3];
  const iterable: AsyncIterable<number> = {
    [Symbol.asyncIterator]: () => ({
      next: async () => (items.length ? { value: items.shift()!, done: false } : { value: undefined, done: true }),
      return: async () => (returned++, { value: undefined, done: true }),
    }),
  };
  const source = sourceOf(iterable);
  const seen: number[] = [];
  assert.equal(await source.deliver((x) => (seen.push(x), x !== 1)), true);
  assert.equal(await source.deliver((x) => (seen.push(x), true)), false);
  assert.deepEqual(seen, [1, 2, 3]);
  assert.equal(returned, 0);
  items.push(4);
  await assert.rejects(
    sourceOf(iterable).deliver(() => {
      throw new Error("bad");
    }),
    /bad/,
  );
  assert.equal(returned, 1);
  const c = new Channel<number>();
  assert.equal(sourceOf(c), c);
});
