import { test } from "node:test";
import assert from "node:assert/strict";
import { Requests } from "../../core/requests.ts";

const ex = (id: number) => ({ id });

test("one request at a time: add, get, remove", () => {
  const r = new Requests<{ id: number }>();
  const a = ex(1);
  r.add(a);
  assert.equal(r.size, 1);
  assert.equal(r.get(1), a);
  assert.equal(r.get(2), undefined);
  assert.equal(r.remove(a), true);
  assert.equal(r.size, 0);
  assert.equal(r.get(1), undefined);
  assert.deepEqual(r.list(), []);
});

test("a request already removed, or an old one whose id is active again, is not removed twice", () => {
  const r = new Requests<{ id: number }>();
  const old = ex(1);
  r.add(old);
  r.remove(old);
  const again = ex(1);
  r.add(again);
  assert.equal(r.remove(old), false);
  assert.equal(r.size, 1);
  assert.equal(r.get(1), again);
});

test("multiplexed: every id is found, whichever slot it is in, and the freed first slot is reused", () => {
  const r = new Requests<{ id: number }>();
  const [a, b, c] = [ex(1), ex(2), ex(3)];
  r.add(a);
  r.add(b);
  r.add(c);
  assert.equal(r.size, 3);
  assert.deepEqual([r.get(1), r.get(2), r.get(3)], [a, b, c]);
  assert.equal(r.remove(a), true);
  assert.equal(r.get(1), undefined);
  assert.deepEqual([r.get(2), r.get(3)], [b, c]);
  const d = ex(4);
  r.add(d);
  assert.equal(r.get(4), d);
  assert.deepEqual(new Set(r.list()), new Set([b, c, d]));
  assert.equal(r.remove(b), true);
  assert.equal(r.remove(b), false);
  assert.equal(r.size, 2);
  assert.deepEqual(new Set(r.list()), new Set([c, d]));
});

test("list() is a snapshot: removing while walking it ends every request", () => {
  const r = new Requests<{ id: number }>();
  const all = [ex(1), ex(2), ex(3)];
  for (const e of all) r.add(e);
  for (const e of r.list()) assert.equal(r.remove(e), true);
  assert.equal(r.size, 0);
  assert.deepEqual(r.list(), []);
});
