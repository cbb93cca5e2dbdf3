import { test } from "node:test";
import assert from "node:assert/strict";
import { byteString, encodeHead, textResponse } from "../../core/response.ts";

const latin1 = (b: Uint8Array) => Buffer.from(b).toString("latin1");
const lines = (r: Response) => latin1(encodeHead(r)).split("\r\n");

test("S1/S2: Status is written LAST, after every header, then the empty line", () => {
  const r = new Response(null, { status: 302, headers: { location: "/x", "content-type": "text/plain", "x-z": "z" } });
  const head = latin1(encodeHead(r));
  assert.ok(head.endsWith("Status: 302 Found\r\n\r\n"), head);
  const l = head.split("\r\n");
  assert.deepEqual(l.slice(-3), ["Status: 302 Found", "", ""]);
  assert.equal(l.filter((x) => x.startsWith("Status:")).length, 1);
  assert.ok(l.indexOf("location: /x") >= 0);
  assert.ok(l.indexOf("location: /x") < l.indexOf("Status: 302 Found"));
  assert.deepEqual(l.slice(0, 3).sort(), ["content-type: text/plain", "location: /x", "x-z: z"]);
});

test("S1: a response without headers still gets Status", () => {
  assert.equal(latin1(encodeHead(new Response(null, { status: 204 }))), "Status: 204 No Content\r\n\r\n");
  assert.equal(latin1(encodeHead(new Response(null))), "Status: 200 OK\r\n\r\n");
});

test("S2: reason phrase from statusText, else from the table", () => {
  assert.equal(lines(new Response(null, { status: 200, statusText: "Fine" })).at(-3), "Status: 200 Fine");
  assert.equal(lines(new Response(null, { status: 404 })).at(-3), "Status: 404 Not Found");
  assert.equal(lines(new Response(null, { status: 503 })).at(-3), "Status: 503 Service Unavailable");
  assert.equal(
    lines(new Response(null, { status: 418, statusText: "I'm a teapot" })).at(-3),
    "Status: 418 I'm a teapot",
  );
  assert.match(lines(new Response(null, { status: 299 })).at(-3)!, /^Status: 299 ?$/);
});

test("S7: each Set-Cookie on its own line", () => {
  const h = new Headers();
  h.append("set-cookie", "a=1; Path=/");
  h.append("set-cookie", "b=2, c=3; Expires=Wed, 21 Oct 2015 07:28:00 GMT");
  h.append("x-a", "1");
  h.append("x-a", "2");
  const l = lines(new Response("x", { headers: h }));
  assert.ok(l.includes("set-cookie: a=1; Path=/"));
  assert.ok(l.includes("set-cookie: b=2, c=3; Expires=Wed, 21 Oct 2015 07:28:00 GMT"));
  assert.equal(l.filter((x) => x.startsWith("set-cookie:")).length, 2);
  assert.ok(l.includes("x-a: 1, 2"));
});

test("S6: hop-by-hop headers are dropped", () => {
  const h = new Headers({
    connection: "keep-alive",
    "keep-alive": "timeout=5",
    "transfer-encoding": "chunked",
    upgrade: "websocket",
    te: "trailers",
    trailer: "x",
    "proxy-connection": "close",
    "x-kept": "yes",
  });
  const l = lines(new Response(null, { headers: h }));
  assert.deepEqual(l, ["x-kept: yes", "Status: 200 OK", "", ""]);
});

test("S6: headers named in Connection are dropped too", () => {
  const h = new Headers({ connection: "close, X-Private ,x-other", "x-private": "p", "x-other": "o", "x-kept": "k" });
  const l = lines(new Response(null, { headers: h }));
  assert.deepEqual(l, ["x-kept: k", "Status: 200 OK", "", ""]);
});

test("S1: a user-set status header is dropped (ours is the only Status)", () => {
  const l = lines(new Response(null, { status: 201, headers: { status: "500 Oops", "x-a": "1" } }));
  assert.deepEqual(l, ["x-a: 1", "Status: 201 Created", "", ""]);
});

test("header values with latin-1 characters are written one byte each", () => {
  const h = new Headers();
  h.set("x-latin", "caf\u00e9");
  const b = encodeHead(new Response(null, { headers: h }));
  const at = Buffer.from(b).indexOf("x-latin: caf");
  assert.ok(at >= 0);
  assert.equal(b[at + "x-latin: caf".length], 0xe9);
  assert.equal(b[at + "x-latin: caf".length + 1], 0x0d);
});

test("byteString: latin-1, one byte per char", () => {
  assert.deepEqual([...byteString("A\u00e9\u00ff\0")], [0x41, 0xe9, 0xff, 0]);
  assert.deepEqual([...byteString("")], []);
});

test("byteString: characters beyond U+00FF are UTF-8, latin-1 ones stay single bytes", () => {
  assert.deepEqual([...byteString("\u00e9\u20ac")], [0xe9, 0xe2, 0x82, 0xac]);
  assert.deepEqual([...byteString("a😀")], [0x61, 0xf0, 0x9f, 0x98, 0x80]);
});

test("textResponse: status, text/plain utf-8, trailing newline", async () => {
  const r = textResponse(405, "nope");
  assert.equal(r.status, 405);
  assert.equal(r.headers.get("content-type"), "text/plain; charset=utf-8");
  assert.equal(await r.text(), "nope\n");
});

test("Authorizer answers: Status first, Variable-* names upper-cased, other headers kept", () => {
  const refusal = new Response("denied", {
    status: 401,
    headers: { "www-authenticate": "Bearer", "variable-user": "x" },
  });
  const head = new TextDecoder().decode(encodeHead(refusal, true));
  assert.equal(
    head,
    "Status: 401 Unauthorized\r\ncontent-type: text/plain;charset=UTF-8\r\nVariable-USER: x\r\nwww-authenticate: Bearer\r\n\r\n",
  );
  const ok = new TextDecoder().decode(
    encodeHead(new Response(null, { headers: { "variable-remote_user": "alice" } }), true),
  );
  assert.equal(ok, "Status: 200 OK\r\nVariable-REMOTE_USER: alice\r\n\r\n");
});

test("a statusText that is not a valid reason phrase (CR/LF: Bun lets it through) is replaced", () => {
  const fake = { status: 200, statusText: "OK\r\nInjected: 1", headers: new Headers() } as unknown as Response;
  assert.equal(new TextDecoder().decode(encodeHead(fake)), "Status: 200 OK\r\n\r\n");
});
