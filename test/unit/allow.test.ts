// Allowed clients: IPv4/IPv6 addresses and CIDRs, IPv4-mapped peers, malformed entries.

import assert from "node:assert/strict";
import { test } from "node:test";
import { allowList, parseIp } from "../../core/allow.ts";

test("parseIp: IPv4, IPv6 forms, and garbage", () => {
  assert.deepEqual([...parseIp("10.1.2.3")!], [10, 1, 2, 3]);
  assert.deepEqual([...parseIp("::1")!], [...new Array(15).fill(0), 1]);
  assert.deepEqual([...parseIp("2001:db8::ff00:42:8329")!].slice(0, 4), [0x20, 0x01, 0x0d, 0xb8]);
  assert.deepEqual([...parseIp("::ffff:127.0.0.1")!].slice(10), [0xff, 0xff, 127, 0, 0, 1]);
  assert.equal(parseIp("fe80::1%eth0")!.length, 16);
  for (
    const bad of [
      "",
      "1.2.3",
      "1.2.3.256",
      "1.2.3.4.5",
      "a.b.c.d",
      "1::2::3",
      "12345::",
      "1:2:3:4:5:6:7:8:9",
      ":::",
      "unix",
    ]
  ) {
    assert.equal(parseIp(bad), null, bad);
  }
});

test("allowList: exact addresses, CIDRs on and off byte boundaries, both families", () => {
  const ok = allowList(["127.0.0.1", "10.0.0.0/8", "192.168.4.0/22", "::1", "fd00::/8", " 172.16.0.0/12 "]);
  for (const a of ["127.0.0.1", "10.255.1.2", "192.168.7.255", "::1", "fd12:3456::1", "172.31.255.255"]) {
    assert.ok(ok(a), a);
  }
  for (const a of ["127.0.0.2", "11.0.0.1", "192.168.8.0", "::2", "fe80::1", "172.32.0.0", "", "garbage"]) {
    assert.ok(!ok(a), a);
  }
});

test("allowList: an IPv4-mapped peer matches IPv4 entries, and mapped entries match plain peers", () => {
  assert.ok(allowList(["127.0.0.0/8"])("::ffff:127.0.0.1"));
  assert.ok(allowList(["::ffff:10.0.0.0/104"])("10.9.9.9"));
  assert.ok(!allowList(["::ffff:10.0.0.0/104"])("11.0.0.1"));
  assert.ok(allowList(["0.0.0.0/0"])("203.0.113.9"));
  assert.ok(!allowList(["0.0.0.0/0"])("::1"), "an IPv4 range does not let IPv6 peers in");
  assert.throws(() => allowList([" ", ""]), /list is empty/);
});

test("allowList: malformed entries are errors that name the entry", () => {
  for (const bad of ["10.0.0.0/33", "::1/129", "10.0.0.0/x", "10.0.0/8", "host.example", "1.2.3.4/8/9", "::1/-1"]) {
    assert.throws(
      () => allowList([bad]),
      new RegExp(`bad allowed client "${bad.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}"`),
      bad,
    );
  }
});
