// The fuzzer's answer oracle (test/fuzz/expect.ts): it must tell a right answer from a wrong one,
// or a fuzz run that passes proves nothing about the answers.

import assert from "node:assert/strict";
import { test } from "node:test";
import type { Case } from "../fuzz/case.ts";
import { check } from "../fuzz/check.ts";
import { answersById, compare, expectFor, LIMITS } from "../fuzz/expect.ts";
import { generate } from "../fuzz/generate.ts";
import { Rng } from "../fuzz/rng.ts";
import { cat, pairs, record, T } from "../lib/fcgi.ts";
import { readRecords } from "../lib/wire.ts";

const enc = new TextEncoder();
const answer = (stdout: string, protocolStatus = 0) => ({ stdout: enc.encode(stdout), appStatus: 0, protocolStatus });
const GET = (uri: string, role = 1) => ({ method: "GET", uri, role });

test("compare: a right answer passes; a wrong status, body, JSON field or protocol status fails", () => {
  const hello = expectFor(GET("/hello"), { REQUEST_METHOD: "GET" })!;
  assert.deepEqual(compare(hello, answer("content-type: text/plain\r\nStatus: 200 OK\r\n\r\nhello")), []);
  assert.deepEqual(compare(hello, answer("Status: 200 OK\r\n\r\nhellx")), ['body "hellx" (5 bytes), not "hello"']);
  assert.deepEqual(compare(hello, answer("Status: 500 Internal Server Error\r\n\r\nhello")), ["status 500, not 200"]);
  assert.deepEqual(compare(hello, answer("Status: 200 OK\r\nhello")), ["no header block in 21 STDOUT bytes"]);

  const params = { REQUEST_METHOD: "GET", REMOTE_PORT: "4242" };
  const env = expectFor(GET("/env"), params)!;
  assert.deepEqual(
    compare(env, answer(`Status: 200\r\n\r\n${JSON.stringify({ env: params, frozen: true, role: "responder" })}`)),
    [],
  );
  const stale = JSON.stringify({ env: { ...params, REMOTE_PORT: "1111" }, frozen: true, role: "responder" });
  assert.deepEqual(compare(env, answer(`Status: 200\r\n\r\n${stale}`)), ['JSON env.REMOTE_PORT: "1111", not "4242"']);
  const extra = JSON.stringify({ env: { ...params, X: "1" }, frozen: true, role: "responder" });
  assert.deepEqual(compare(env, answer(`Status: 200\r\n\r\n${extra}`)), ['JSON env.X: "1", not absent']);

  const refused = expectFor(GET("/hello", 7), {})!;
  assert.deepEqual(refused, { protocolStatus: 3 });
  assert.deepEqual(compare(refused, answer("")), ["protocolStatus 0, not 3"]);
  assert.deepEqual(compare(refused, answer("Status: 200\r\n\r\n", 3)), ["15 STDOUT bytes for a refused request"]);
});

test("expectFor: a long body by length and hash, limits give 431, HEAD no body", () => {
  const big = expectFor(GET("/big?n=3000"), {})!;
  assert.equal(big.bodyLength, 3000);
  const body = Array.from({ length: 3000 }, (_, i) => String.fromCharCode(97 + (i % 26))).join("");
  assert.deepEqual(compare(big, answer(`Status: 200\r\n\r\n${body}`)), []);
  assert.equal(compare(big, answer(`Status: 200\r\n\r\n${body.slice(1)}z`)).length, 1);
  assert.deepEqual(expectFor(GET("/hello"), { HTTP_X: "v".repeat(LIMITS.maxParamLength + 1) }), { status: 431 });
  assert.deepEqual(expectFor(GET("/hello"), { HTTP_X: "v".repeat(LIMITS.maxParamLength) }), {
    status: 200,
    body: "hello",
  });
  assert.deepEqual(expectFor({ method: "HEAD", uri: "/hello", role: 1 }, {}), { status: 200, body: "" });
});

test("answersById: an id's answers in the order they ended, an unfinished one left out", () => {
  const end = (id: number) => record(T.END, id, new Uint8Array(8));
  const out = (id: number, s: string) => record(T.STDOUT, id, enc.encode(s));
  const wire = [out(1, "a"), out(2, "x"), out(1, "b"), end(1), out(1, "c"), end(2), end(1), out(1, "unfinished")];
  const { records } = readRecords(Uint8Array.from(wire.flatMap((r) => [...r])));
  const got = answersById(records);
  const text = (id: number) => got.get(id)!.map((a) => new TextDecoder().decode(a.stdout));
  assert.deepEqual(text(1), ["ab", "c"]);
  assert.deepEqual(text(2), ["x"]);
});

test("check: a request sent whole before the mutations must get its own answer, if any", () => {
  const params = { REQUEST_METHOD: "GET", REQUEST_URI: "/hello", SCRIPT_NAME: "/hello" };
  const valid = cat(
    record(T.BEGIN, 1, Uint8Array.of(0, 1, 1, 0, 0, 0, 0, 0)),
    record(T.PARAMS, 1, pairs(params)),
    record(T.PARAMS, 1),
    record(T.STDIN, 1),
  );
  const mutated = (tail: Uint8Array, intact = valid.length): Case => {
    const bytes = cat(valid, tail);
    const requests = [{
      id: 1,
      route: "GET /hello role 1",
      mayFail: false,
      expect: expectFor(GET("/hello"), params),
      end: valid.length,
    }];
    return {
      seed: 0,
      pattern: "test",
      mutations: ["append"],
      bytes,
      writes: [],
      pauseMs: 0,
      close: "hold",
      sendUpTo: bytes.length,
      waits: [],
      requests,
      intact,
    };
  };
  const answered = (body: string) => ({
    bytes: cat(
      record(T.STDOUT, 1, `Status: 200 OK\r\n\r\n${body}`),
      record(T.STDOUT, 1),
      record(T.END, 1, new Uint8Array(8)),
    ),
    closedByWorker: true,
  });
  const garbage = Uint8Array.of(1, 77, 0, 5, 0, 0, 0, 0); // an unknown type for another id
  assert.deepEqual(check(mutated(garbage), answered("hello")), []);
  assert.deepEqual(check(mutated(garbage), answered("hellx")), [
    'intact request before the mutations: id 1 (GET /hello role 1): body "hellx" (5 bytes), not "hello"',
  ]);
  assert.deepEqual(
    check(mutated(garbage), { bytes: new Uint8Array(0), closedByWorker: true }),
    [],
    "unanswered is allowed",
  );
  assert.deepEqual(
    check(mutated(garbage, valid.length - 1), answered("hellx")),
    [],
    "a request the mutations reach is not held to its answer",
  );
  assert.deepEqual(check(mutated(record(T.ABORT, 1)), answered("hellx")), [], "nor one a later record aborts");
});

test("check: after a half-close, a request sent whole is held to its answer only when the worker completed it (appStatus 0)", () => {
  const params = { REQUEST_METHOD: "GET", REQUEST_URI: "/hello", SCRIPT_NAME: "/hello" };
  const one = cat(
    record(T.BEGIN, 1, Uint8Array.of(0, 1, 1, 0, 0, 0, 0, 0)),
    record(T.PARAMS, 1, pairs(params)),
    record(T.PARAMS, 1),
    record(T.STDIN, 1),
  );
  const requests = [{
    id: 1,
    route: "GET /hello role 1",
    mayFail: false,
    expect: expectFor(GET("/hello"), params),
    end: one.length,
  }];
  const ended = (sendUpTo = one.length): Case => ({
    seed: 0,
    pattern: "test",
    mutations: [],
    bytes: one,
    writes: [],
    pauseMs: 0,
    close: "end",
    sendUpTo,
    waits: [],
    requests,
    intact: one.length,
  });
  const endRequest = (appStatus: number) => record(T.END, 1, Uint8Array.of(0, 0, 0, appStatus, 0, 0, 0, 0));
  const answered = (body: string, appStatus = 0) => ({
    bytes: cat(record(T.STDOUT, 1, `Status: 200 OK\r\n\r\n${body}`), record(T.STDOUT, 1), endRequest(appStatus)),
    closedByWorker: true,
  });
  assert.deepEqual(check(ended(), answered("hello")), []);
  assert.deepEqual(check(ended(), answered("hellx")), [
    'intact request before the mutations: id 1 (GET /hello role 1): body "hellx" (5 bytes), not "hello"',
  ]);
  assert.deepEqual(
    check(ended(), { bytes: endRequest(1), closedByWorker: true }),
    [],
    "aborted by the EOF: ended early, not checked",
  );
  assert.deepEqual(check(ended(), answered("hel", 1)), [], "a response cut by the abort is not checked");
  assert.deepEqual(check(ended(one.length - 1), answered("hellx")), [], "a request not sent whole is not checked");
  const reset: Case = { ...ended(), close: "reset" };
  assert.deepEqual(check(reset, answered("hellx")), [], "after a reset nothing is checked against the app");
});

test("generate: each request's end is just past its last record, before the next request of its id begins", () => {
  for (let seed = 1; seed <= 300; seed++) {
    const g = generate(new Rng(seed));
    const stream = cat(...g.records);
    const ids = (from: number, to: number) => readRecords(stream.subarray(from, to)).records;
    for (const [k, req] of g.requests.entries()) {
      assert.ok(req.end !== undefined && req.end <= stream.length, `seed ${seed}: request ${k} has no end`);
      const before = ids(0, req.end!).filter((r) => r.id === req.id);
      const after = ids(req.end!, stream.length).filter((r) => r.id === req.id);
      const nth = g.requests.slice(0, k + 1).filter((q) => q.id === req.id).length;
      assert.equal(
        before.filter((r) => r.type === T.BEGIN).length,
        nth,
        `seed ${seed}: request ${k} does not end after its own BEGIN_REQUEST`,
      );
      assert.ok(
        after.length === 0 || after[0].type === T.BEGIN,
        `seed ${seed}: request ${k} (id ${req.id}) has records after its end`,
      );
    }
  }
});
