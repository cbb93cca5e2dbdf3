// core/closing.ts against a fake Conn whose `unsent` the test moves: when a closed connection is
// let go, and what counts as a peer that stopped reading. test/flush.test.ts covers real sockets.

import assert from "node:assert/strict";
import { test } from "node:test";
import { Closing, LINGER_MS } from "../../core/closing.ts";
import type { Conn } from "../../core/types.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

class FakeConn implements Conn {
  readonly readable = { deliver: async () => false };
  unsent = 0;
  destroyedAt = -1;
  released: (() => void) | null = null;
  write(): void {}
  close(): void {}
  destroy(): void {
    if (this.destroyedAt < 0) this.destroyedAt = performance.now();
  }
  whenReleased(callback: () => void): void {
    this.released = callback;
  }
}

function closing(conn: FakeConn, flushTimeout: number): { logged: string[] } {
  const logged: string[] = [];
  new Closing(conn, { flushTimeout, log: (_level, message) => logged.push(message) });
  return { logged };
}

test("output that keeps leaving is waited for, however long; the linger starts once it is all out", async () => {
  const conn = new FakeConn();
  conn.unsent = 2000;
  const { logged } = closing(conn, 200);
  const draining = setInterval(() => (conn.unsent = Math.max(0, conn.unsent - 50)), 20); // ~800 ms, 4 bounds
  try {
    await sleep(1200);
    assert.equal(conn.unsent, 0);
    assert.equal(conn.destroyedAt, -1, "destroyed while its output was still leaving, or with no linger after");
    const flushedBy = performance.now();
    await sleep(LINGER_MS + 400);
    assert.ok(conn.destroyedAt > 0, "not destroyed after the linger");
    assert.ok(conn.destroyedAt - flushedBy >= LINGER_MS - 1000, "the linger counts from the end of the output");
    assert.deepEqual(logged, []);
  } finally {
    clearInterval(draining);
  }
});

test("a peer that takes nothing for flushTimeout is dropped, with a log line", async () => {
  const conn = new FakeConn();
  conn.unsent = 5000;
  const start = performance.now();
  const { logged } = closing(conn, 300);
  await sleep(1500);
  assert.ok(conn.destroyedAt > 0, "not dropped");
  assert.ok(conn.destroyedAt - start >= 300, `dropped after ${conn.destroyedAt - start} ms, before the bound`);
  assert.deepEqual(logged, [
    "closing connection: the web server took none of the last 5000 bytes in 300 ms (flushTimeout)",
  ]);
});

test("a worker busy past the bound (nothing written meanwhile) does not count against the peer", async () => {
  const conn = new FakeConn();
  conn.unsent = 5000;
  closing(conn, 400);
  const busyUntil = performance.now() + 1000;
  while (performance.now() < busyUntil); // a handler computing a large body
  // Once the worker runs again, output leaves (in a socket: in the I/O phase after the late check).
  const draining = setInterval(() => (conn.unsent = Math.max(1, conn.unsent - 100)), 20);
  try {
    await sleep(300);
    assert.equal(conn.destroyedAt, -1, "the late check took the worker's busy second for a stalled peer");
  } finally {
    clearInterval(draining);
  }
  conn.released!();
});

test("after the peer's EOF, a connection with nothing left goes at the first check; a released one is left alone", async () => {
  const ended = new FakeConn();
  const released = new FakeConn();
  for (const conn of [ended, released]) {
    const c = new Closing(conn, { flushTimeout: 400, log: () => {} });
    c.ended();
  }
  released.released!();
  await sleep(300);
  assert.ok(ended.destroyedAt > 0, "an ended connection waited for a linger");
  assert.equal(released.destroyedAt, -1);
});

test("flushTimeout 0: no bound, however long nothing leaves", async () => {
  const conn = new FakeConn();
  conn.unsent = 5000;
  closing(conn, 0);
  await sleep(LINGER_MS + 300);
  assert.equal(conn.destroyedAt, -1);
  conn.released!();
});
