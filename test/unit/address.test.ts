import { test } from "node:test";
import assert from "node:assert/strict";
import { AddressError, formatAddress, parseAddress, parseMode } from "../../core/address.ts";

test("tcp:HOST:PORT", () => {
  assert.deepEqual(parseAddress("tcp:127.0.0.1:9000"), { kind: "tcp", host: "127.0.0.1", port: 9000 });
  assert.deepEqual(parseAddress("tcp:example.com:1"), { kind: "tcp", host: "example.com", port: 1 });
  assert.deepEqual(parseAddress("tcp:[::1]:9000"), { kind: "tcp", host: "::1", port: 9000 });
});

test("HOST:PORT", () => {
  assert.deepEqual(parseAddress("localhost:9000"), { kind: "tcp", host: "localhost", port: 9000 });
  assert.deepEqual(parseAddress("10.1.2.3:65535"), { kind: "tcp", host: "10.1.2.3", port: 65535 });
  assert.deepEqual(parseAddress("h:0"), { kind: "tcp", host: "h", port: 0 });
});

test("[IPv6]:PORT", () => {
  assert.deepEqual(parseAddress("[::1]:9000"), { kind: "tcp", host: "::1", port: 9000 });
  assert.deepEqual(parseAddress("[::]:80"), { kind: "tcp", host: "::", port: 80 });
  assert.deepEqual(parseAddress("[fe80::1%eth0]:9000"), { kind: "tcp", host: "fe80::1%eth0", port: 9000 });
  assert.deepEqual(parseAddress("[::ffff:1.2.3.4]:9"), { kind: "tcp", host: "::ffff:1.2.3.4", port: 9 });
});

test(":PORT is loopback 127.0.0.1, *:PORT is 0.0.0.0", () => {
  assert.deepEqual(parseAddress(":9000"), { kind: "tcp", host: "127.0.0.1", port: 9000 });
  assert.deepEqual(parseAddress("tcp::9000"), { kind: "tcp", host: "127.0.0.1", port: 9000 });
  assert.deepEqual(parseAddress("*:9000"), { kind: "tcp", host: "0.0.0.0", port: 9000 });
  assert.deepEqual(parseAddress("tcp:*:9000"), { kind: "tcp", host: "0.0.0.0", port: 9000 });
});

test("PORT alone is :PORT, loopback (PHP-FPM's `listen = 9000`, which would take every address)", () => {
  assert.deepEqual(parseAddress("9000"), { kind: "tcp", host: "127.0.0.1", port: 9000 });
  assert.deepEqual(parseAddress("0"), { kind: "tcp", host: "127.0.0.1", port: 0 });
  assert.deepEqual(parseAddress("65535"), { kind: "tcp", host: "127.0.0.1", port: 65535 });
  assert.equal(formatAddress(parseAddress("9000")), "tcp:127.0.0.1:9000");
  throwsAddress("65536", /port must be 0-65535/);
  throwsAddress("123456", /port must be 0-65535/);
  throwsAddress("9000x", /has no port/);
  throwsAddress("tcp:9000", /has no port/);
});

test("unix:PATH and /abs/path", () => {
  assert.deepEqual(parseAddress("unix:/run/app.sock"), { kind: "unix", path: "/run/app.sock" });
  assert.deepEqual(parseAddress("unix:rel/app.sock"), { kind: "unix", path: "rel/app.sock" });
  assert.deepEqual(parseAddress("/tmp/a:b.sock"), { kind: "unix", path: "/tmp/a:b.sock" });
});

test("F1: fd:N (fd:0 is FCGI_LISTENSOCK_FILENO)", () => {
  assert.deepEqual(parseAddress("fd:0"), { kind: "fd", fd: 0 });
  assert.deepEqual(parseAddress("fd:3"), { kind: "fd", fd: 3 });
  for (const bad of ["fd:", "fd:x", "fd:-1", "fd:1.5", "fd:1234567890"]) {
    assert.throws(
      () => parseAddress(bad),
      (e: unknown) => e instanceof AddressError && /fd must be a number/.test(e.message),
      bad,
    );
  }
});

function throwsAddress(spec: string, message: RegExp): void {
  assert.throws(
    () => parseAddress(spec),
    (e: unknown) => {
      assert.ok(e instanceof AddressError, `${spec}: AddressError`);
      assert.ok(e instanceof TypeError);
      assert.equal(e.name, "AddressError");
      assert.match(e.message, message, spec);
      return true;
    },
    spec,
  );
}

test("errors: missing port", () => {
  throwsAddress("localhost", /has no port/);
  throwsAddress("tcp:localhost", /has no port/);
  throwsAddress("localhost:", /port must be 0-65535/);
  throwsAddress("[::1]:", /port must be 0-65535/);
  throwsAddress(":", /port must be 0-65535/);
});

test("errors: port out of range or not a number", () => {
  throwsAddress("localhost:65536", /port must be 0-65535/);
  throwsAddress("localhost:99999", /port must be 0-65535/);
  throwsAddress("localhost:123456", /port must be 0-65535/);
  throwsAddress("localhost:-1", /port must be 0-65535/);
  throwsAddress("localhost:http", /port must be 0-65535/);
  throwsAddress("[::1]:70000", /port must be 0-65535/);
});

test("errors: bare IPv6 without brackets", () => {
  throwsAddress("::1:9000", /brackets/);
  throwsAddress("tcp:fe80::1:9000", /brackets/);
});

test("errors: empty address and empty unix path", () => {
  throwsAddress("", /empty listen address/);
  throwsAddress("unix:", /has no path/);
});

test("formatAddress round-trips", () => {
  for (const s of ["tcp:127.0.0.1:9000", "tcp:[::1]:80", "unix:/run/x.sock", "fd:0"]) {
    assert.equal(formatAddress(parseAddress(s)), s);
  }
});

test("parseMode: octal strings and numbers", () => {
  assert.equal(parseMode("660"), 0o660);
  assert.equal(parseMode("0660"), 0o660);
  assert.equal(parseMode("777"), 0o777);
  assert.equal(parseMode("000"), 0);
  assert.equal(parseMode(0o600), 0o600);
  assert.equal(parseMode(0), 0);
});

test("parseMode: bad modes throw", () => {
  for (const bad of ["", "66", "888", "0o660", "1660", "00660", "rw-rw----", " 660", "660 ", "-660"]) {
    assert.throws(() => parseMode(bad), TypeError, JSON.stringify(bad));
  }
  for (const bad of [-1, 0o1000, 1.5, NaN, Infinity]) {
    assert.throws(() => parseMode(bad), TypeError, String(bad));
  }
});
