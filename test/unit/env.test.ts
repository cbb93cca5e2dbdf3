import { test } from "node:test";
import assert from "node:assert/strict";
import { buildParams } from "../../core/env.ts";
import { headerList } from "../../core/cgi.ts";

/** buildParams three times (the second repeat compiles a layout, the third uses it), each checked. */
function thrice(names: string[], values: string[], expected: Record<string, string>): void {
  for (let round = 0; round < 3; round++) {
    const { env, headers } = buildParams(names.slice(), values.slice());
    assert.deepEqual({ ...env }, expected, `round ${round}`);
    assert.deepEqual(Object.keys(env), Object.keys(expected), `round ${round}: key order`);
    assert.ok(Object.isFrozen(env));
    assert.equal(Object.getPrototypeOf(env), Object.prototype);
    // The header list is the same whether the layout supplied the HTTP_* part or env did.
    assert.deepEqual(headerList(env, headers), headerList(env), `round ${round}: headers`);
  }
}

test("env: a repeated name sequence gives the same env and headers as the first time", () => {
  const names = [
    "REQUEST_METHOD",
    "HTTP_HOST",
    "HTTP_ACCEPT_LANGUAGE",
    "CONTENT_TYPE",
    "HTTP_CONTENT_TYPE",
    "HTTP_CONTENT_LENGTH",
    "X",
  ];
  const values = ["POST", "a.example", "en", "text/plain", "text/html", "5", "x"];
  thrice(names, values, Object.fromEntries(names.map((n, i) => [n, values[i]])));
  assert.notEqual(buildParams(names, values).headers, null, "a layout was compiled and used");
  // Same names, other values: the layout must not keep the first request's values.
  thrice(
    names,
    ["GET", "b", "de", "", "", "", ""],
    Object.fromEntries(
      names.map((
        n,
      ) => [n, n === "REQUEST_METHOD" ? "GET" : n === "HTTP_HOST" ? "b" : n === "HTTP_ACCEPT_LANGUAGE" ? "de" : ""]),
    ),
  );
});

test("env: repeated names are joined (C6) and __proto__ is ignored, layout or not", () => {
  const names = [
    "HTTP_ACCEPT",
    "SCRIPT_NAME",
    "HTTP_ACCEPT",
    "HTTP_COOKIE",
    "HTTP_COOKIE",
    "HTTP_HOST",
    "HTTP_HOST",
    "SCRIPT_NAME",
    "HTTP_ACCEPT",
  ];
  const values = ["a", "/first", "b", "c=1", "d=2", "x", "y", "/last", "c"];
  thrice(names, values, { HTTP_ACCEPT: "a, b, c", SCRIPT_NAME: "/last", HTTP_COOKIE: "c=1; d=2", HTTP_HOST: "y" });
  // A config that sends a name twice (fastcgi_params plus its own SCRIPT_NAME) still gets a layout.
  assert.notEqual(buildParams(names.slice(), values.slice()).headers, null, "a layout was compiled and used");
  for (let round = 0; round < 3; round++) {
    const { env, headers } = buildParams(["__proto__", "A", "HTTP_X"], ["{}", "1", "2"]);
    assert.deepEqual({ ...env }, { A: "1", HTTP_X: "2" });
    assert.equal(Object.getPrototypeOf(env), Object.prototype);
    if (round === 2) assert.deepEqual(headers, [["x", "2"]], "the layout, with __proto__ left out");
  }
});

test("env: names that are not identifiers are plain keys in the compiled layout", () => {
  const names = ['a"b', "c\\d", "e\nf", "}); throw 1; ({", "constructor", "toString", ""];
  thrice(names, names.map((_, i) => String(i)), Object.fromEntries(names.map((n, i) => [n, String(i)])));
});

test("env: sequences that alternate or keep changing still decode right", () => {
  for (let i = 0; i < 200; i++) {
    const names = i % 2 ? ["A", "B"] : [`N${i}`, "B"];
    const { env } = buildParams(names, ["1", "2"]);
    assert.deepEqual({ ...env }, { [names[0]]: "1", B: "2" });
  }
});
