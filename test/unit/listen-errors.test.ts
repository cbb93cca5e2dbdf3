// The one form of a listen failure, from the errors each runtime really throws (their shapes as
// recorded from Node 24, Bun 1.4 and Deno 2.9); test/cli.test.ts checks the same through the CLI.
// Here: the cases a test machine cannot cause (a name that does not resolve needs DNS, EROFS), and
// the rules.

import assert from "node:assert/strict";
import { test } from "node:test";
import type { Address } from "../../core/types.ts";
import { checkBeforeListen, explainListenFailure, ListenError, UNIX_PATH_MAX } from "../../runtimes/listen-errors.ts";

const tcp = (host: string, port: number): Address => ({ kind: "tcp", host, port });

test("a Unix socket path of 107 bytes is allowed, 108 is not; bytes, not characters", () => {
  checkBeforeListen({ kind: "unix", path: "/" + "a".repeat(UNIX_PATH_MAX - 1) });
  checkBeforeListen(tcp("x".repeat(300), 1));
  const long = "/" + "é".repeat(54); // 109 bytes, 55 characters
  assert.throws(() => checkBeforeListen({ kind: "unix", path: long }), (e: unknown) => {
    assert.ok(e instanceof ListenError);
    assert.equal(e.code, "ENAMETOOLONG");
    assert.equal(
      e.message,
      `fetchcgi: cannot listen on unix:${long}: the path is 109 bytes, longer than the 107 a Unix socket's path may have (choose a shorter one, e.g. under /run)`,
    );
    return true;
  });
  assert.throws(() => checkBeforeListen({ kind: "unix", path: "/" + "a".repeat(UNIX_PATH_MAX) }), ListenError);
});

test("a host name that does not resolve, as each runtime says it", () => {
  const expected =
    "fetchcgi: cannot listen on tcp:nosuch.invalid:9000: the host name nosuch.invalid does not resolve (use an IP address, or a name in /etc/hosts)";
  const raw = [
    Object.assign(new Error("getaddrinfo ENOTFOUND nosuch.invalid"), { code: "ENOTFOUND", syscall: "getaddrinfo" }), // Node
    new Error("Failed to listen at nosuch.invalid"), // Bun: no code
    new Error("failed to lookup address information: Name or service not known"), // Deno: no code
  ];
  for (const err of raw) {
    const e = explainListenFailure(err, tcp("nosuch.invalid", 9000));
    assert.equal(e.message, expected);
    assert.equal(e.cause, err);
  }
});

test("a port in use, as each runtime says it: one message, the code kept", () => {
  const raw = [
    Object.assign(new Error("listen EADDRINUSE: address already in use 127.0.0.1:9000"), {
      code: "EADDRINUSE",
      errno: -98,
    }), // Node
    Object.assign(new Error("Failed to listen at 127.0.0.1"), { code: "EADDRINUSE", errno: 98 }), // Bun
    Object.assign(new Error("Address already in use (os error 98)"), { name: "AddrInUse", code: "EADDRINUSE" }), // Deno
  ];
  for (const err of raw) {
    const e = explainListenFailure(err, tcp("127.0.0.1", 9000));
    assert.equal(e.name, "ListenError");
    assert.equal(e.code, "EADDRINUSE");
    assert.equal(
      e.message,
      "fetchcgi: cannot listen on tcp:127.0.0.1:9000: port 9000 is in use (another process listens there: find it with `ss -ltnp` and stop it, or choose another port)",
    );
  }
});

test("a read-only file system", () => {
  const e = explainListenFailure(Object.assign(new Error("Read-only file system (os error 30)"), { code: "EROFS" }), {
    kind: "unix",
    path: "/usr/app.sock",
  });
  assert.equal(
    e.message,
    "fetchcgi: cannot listen on unix:/usr/app.sock: /usr is on a read-only file system (choose a writable directory, e.g. under /run)",
  );
});

test("anything else keeps the runtime's words and its code; a ListenError passes as it is", () => {
  const odd = explainListenFailure(
    Object.assign(new Error("Failed to listen at 127.0.0.1"), { code: "EMFILE" }),
    tcp("127.0.0.1", 9000),
  );
  assert.equal(odd.message, "fetchcgi: cannot listen on tcp:127.0.0.1:9000: Failed to listen at 127.0.0.1 (EMFILE)");
  assert.equal(odd.code, "EMFILE");
  assert.equal(
    explainListenFailure("a string", tcp("::1", 1)).message,
    "fetchcgi: cannot listen on tcp:[::1]:1: a string",
  );
  const same = new ListenError(tcp("127.0.0.1", 1), "why", "what to do");
  assert.equal(explainListenFailure(same, tcp("127.0.0.1", 2)), same);
  assert.equal(same.message, "fetchcgi: cannot listen on tcp:127.0.0.1:1: why (what to do)");
});
