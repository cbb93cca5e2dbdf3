import { test } from "node:test";
import assert from "node:assert/strict";
import type { Params } from "../../core/types.ts";
import {
  declaredLength,
  hasBody,
  headerList,
  isForbiddenMethod,
  joinRepeated,
  mergeParam,
  methodOf,
  parseLength,
  requestUrl,
} from "../../core/cgi.ts";
import { buildHeaders } from "../../core/request.ts";

test("C3/C7: REQUEST_URI (raw) on HTTP_HOST", () => {
  assert.equal(
    requestUrl({
      REQUEST_URI: "/a%20b/c?x=%2F&y",
      HTTP_HOST: "example.com:8080",
      SERVER_NAME: "other",
      SERVER_PORT: "80",
    }),
    "http://example.com:8080/a%20b/c?x=%2F&y",
  );
});

test("C7: without HTTP_HOST, SERVER_NAME:SERVER_PORT; default ports omitted", () => {
  assert.equal(requestUrl({ REQUEST_URI: "/p", SERVER_NAME: "srv", SERVER_PORT: "8080" }), "http://srv:8080/p");
  assert.equal(requestUrl({ REQUEST_URI: "/p", SERVER_NAME: "srv", SERVER_PORT: "80" }), "http://srv/p");
  assert.equal(requestUrl({ REQUEST_URI: "/p", SERVER_NAME: "srv", SERVER_PORT: "443", HTTPS: "on" }), "https://srv/p");
  assert.equal(requestUrl({ REQUEST_URI: "/p", SERVER_NAME: "srv", SERVER_PORT: "443" }), "http://srv:443/p");
  assert.equal(
    requestUrl({ REQUEST_URI: "/p", SERVER_NAME: "srv", SERVER_PORT: "80", HTTPS: "on" }),
    "https://srv:80/p",
  );
  assert.equal(requestUrl({ REQUEST_URI: "/p", SERVER_NAME: "srv" }), "http://srv/p");
  assert.equal(requestUrl({ REQUEST_URI: "/p" }), "http://localhost/p");
  assert.equal(requestUrl({ REQUEST_URI: "/p", SERVER_ADDR: "10.0.0.1", SERVER_PORT: "81" }), "http://10.0.0.1:81/p");
});

test("C7: HAProxy-style SERVER_NAME that already carries a port is kept as is", () => {
  assert.equal(requestUrl({ REQUEST_URI: "/p", SERVER_NAME: "srv:8443", SERVER_PORT: "9000" }), "http://srv:8443/p");
});

test("C7: a bare IPv6 SERVER_NAME is bracketed; a bracketed one is kept", () => {
  assert.equal(requestUrl({ REQUEST_URI: "/p", SERVER_NAME: "::1", SERVER_PORT: "8080" }), "http://[::1]:8080/p");
  assert.equal(
    requestUrl({ REQUEST_URI: "/p", SERVER_NAME: "2001:db8::1", SERVER_PORT: "80" }),
    "http://[2001:db8::1]/p",
  );
  assert.equal(requestUrl({ REQUEST_URI: "/p", SERVER_NAME: "[::1]", SERVER_PORT: "8080" }), "http://[::1]:8080/p");
  assert.doesNotThrow(() => new URL(requestUrl({ REQUEST_URI: "/p", SERVER_NAME: "fe80::1", SERVER_PORT: "81" })));
});

test("C10: HTTPS=on / REQUEST_SCHEME=https select https; off/empty/0 do not", () => {
  const base = { REQUEST_URI: "/", HTTP_HOST: "h" };
  assert.equal(requestUrl({ ...base, HTTPS: "on" }), "https://h/");
  assert.equal(requestUrl({ ...base, HTTPS: "ON" }), "https://h/");
  assert.equal(requestUrl({ ...base, HTTPS: "1" }), "https://h/");
  assert.equal(requestUrl({ ...base, REQUEST_SCHEME: "https" }), "https://h/");
  assert.equal(requestUrl({ ...base, REQUEST_SCHEME: "HTTPS" }), "https://h/");
  assert.equal(requestUrl({ ...base, HTTPS: "off" }), "http://h/");
  assert.equal(requestUrl({ ...base, HTTPS: "" }), "http://h/");
  assert.equal(requestUrl({ ...base, HTTPS: "0" }), "http://h/");
  assert.equal(requestUrl({ ...base, REQUEST_SCHEME: "http" }), "http://h/");
  assert.equal(requestUrl(base), "http://h/");
});

test("C3: an absolute-form REQUEST_URI is kept as is", () => {
  assert.equal(requestUrl({ REQUEST_URI: "http://proxy.example/x?y", HTTP_HOST: "h" }), "http://proxy.example/x?y");
  assert.equal(requestUrl({ REQUEST_URI: "HTTPS://a.example/", HTTP_HOST: "h" }), "HTTPS://a.example/");
});

test("C3: REQUEST_URI without a leading slash (OPTIONS *) gets one", () => {
  assert.equal(requestUrl({ REQUEST_URI: "*", HTTP_HOST: "h" }), "http://h/*");
});

test("C2/C3: no REQUEST_URI: encoded SCRIPT_NAME + PATH_INFO + ?QUERY_STRING", () => {
  assert.equal(
    requestUrl({ SCRIPT_NAME: "/app.fcgi", PATH_INFO: "/a b/é", QUERY_STRING: "x=1&y=%20", HTTP_HOST: "h" }),
    "http://h/app.fcgi/a%20b/%C3%A9?x=1&y=%20",
  );
  assert.equal(requestUrl({ SCRIPT_NAME: "/s", QUERY_STRING: "", HTTP_HOST: "h" }), "http://h/s");
  assert.equal(requestUrl({ PATH_INFO: "/only", HTTP_HOST: "h" }), "http://h/only");
  assert.equal(requestUrl({ HTTP_HOST: "h" }), "http://h/");
  assert.equal(requestUrl({ HTTP_HOST: "h", QUERY_STRING: "q" }), "http://h/?q");
  assert.equal(requestUrl({ SCRIPT_NAME: "rel", HTTP_HOST: "h" }), "http://h/rel");
  assert.equal(requestUrl({ REQUEST_URI: "", SCRIPT_NAME: "/s", HTTP_HOST: "h" }), "http://h/s");
  // a decoded "%" must be re-encoded
  assert.equal(requestUrl({ SCRIPT_NAME: "/100%", HTTP_HOST: "h" }), "http://h/100%25");
});

test("C3: no REQUEST_URI: a decoded '?' or '#' in PATH_INFO is re-encoded, not taken as a delimiter", () => {
  // PATH_INFO is decoded (RFC 3875 4.1.5): a request for /app/what%3F.txt arrives as "/what?.txt".
  const url = requestUrl({ SCRIPT_NAME: "/app", PATH_INFO: "/what?.txt", QUERY_STRING: "x=1", HTTP_HOST: "h" });
  assert.equal(new URL(url).pathname, "/app/what%3F.txt");
  assert.equal(new URL(url).search, "?x=1");
  const hash = requestUrl({ SCRIPT_NAME: "/app", PATH_INFO: "/a#b", HTTP_HOST: "h" });
  assert.equal(new URL(hash).pathname, "/app/a%23b");
});

test("C6: headerList maps HTTP_X_FOO to x-foo and ignores non-HTTP_ params", () => {
  const list = headerList({
    HTTP_X_FOO: "1",
    HTTP_ACCEPT_LANGUAGE: "fr",
    HTTP_HOST: "h",
    REQUEST_METHOD: "GET",
    HTTPS: "on",
    HTTP: "x",
    SERVER_NAME: "s",
  });
  assert.deepEqual(list, [["x-foo", "1"], ["accept-language", "fr"], ["host", "h"]]);
});

test("C5: CONTENT_TYPE/CONTENT_LENGTH merged with their HTTP_ twins, without duplicates", () => {
  const list = headerList({
    CONTENT_TYPE: "text/plain",
    HTTP_CONTENT_TYPE: "text/plain",
    CONTENT_LENGTH: "12",
    HTTP_CONTENT_LENGTH: "12",
    HTTP_X_A: "a",
  });
  assert.deepEqual(list, [["x-a", "a"], ["content-type", "text/plain"], ["content-length", "12"]]);
  // only the HTTP_ twins present
  assert.deepEqual(headerList({ HTTP_CONTENT_TYPE: "a/b", HTTP_CONTENT_LENGTH: "3" }), [["content-type", "a/b"], [
    "content-length",
    "3",
  ]]);
  // CGI variable wins
  assert.deepEqual(headerList({ CONTENT_TYPE: "a/b", HTTP_CONTENT_TYPE: "c/d" }), [["content-type", "a/b"]]);
});

test("C4/C5: CONTENT_LENGTH -1 (Caddy), empty or malformed is dropped", () => {
  assert.deepEqual(headerList({ CONTENT_LENGTH: "-1" }), []);
  assert.deepEqual(headerList({ CONTENT_LENGTH: "" }), []);
  assert.deepEqual(headerList({ CONTENT_LENGTH: "12abc" }), []);
  assert.deepEqual(headerList({ CONTENT_LENGTH: "0" }), [["content-length", "0"]]);
  assert.equal(declaredLength({ CONTENT_LENGTH: "-1" }), -1);
  assert.equal(declaredLength({}), -1);
  assert.equal(declaredLength({ CONTENT_LENGTH: "42" }), 42);
  assert.equal(declaredLength({ HTTP_CONTENT_LENGTH: "7" }), 7);
  assert.equal(declaredLength({ CONTENT_LENGTH: "1e3" }), -1);
});

test("C6: Authorization from REDIRECT_HTTP_AUTHORIZATION when HTTP_AUTHORIZATION is absent", () => {
  assert.deepEqual(headerList({ REDIRECT_HTTP_AUTHORIZATION: "Basic eA==" }), [["authorization", "Basic eA=="]]);
  assert.deepEqual(
    headerList({ HTTP_AUTHORIZATION: "Bearer t", REDIRECT_HTTP_AUTHORIZATION: "Basic eA==" }),
    [["authorization", "Bearer t"]],
  );
  assert.deepEqual(headerList({ REDIRECT_HTTP_AUTHORIZATION: "" }), []);
});

test("buildHeaders: an invalid header is skipped and reported, the rest kept", () => {
  const skipped: string[] = [];
  const h = buildHeaders(
    [["x-ok", "1"], ["bad name", "v"], ["x-nul", "a\0b"], ["x-last", "2"]],
    (m) => skipped.push(m),
  );
  assert.equal(h.get("x-ok"), "1");
  assert.equal(h.get("x-last"), "2");
  assert.equal(h.has("x-nul"), false);
  assert.equal([...h.keys()].length, 2);
  assert.equal(skipped.length, 2);
  assert.match(skipped[0], /bad name/);
  assert.match(skipped[1], /x-nul/);
});

test("buildHeaders: a valid list calls no onSkip; a UTF-8 value is kept as its bytes", () => {
  const h = buildHeaders([["a", "1"], ["b", "2"]], () => assert.fail("no skip"));
  assert.deepEqual([...h], [["a", "1"], ["b", "2"]]);
  const u = buildHeaders([["x-name", "日本"], ["x-ok", "1"]], () => assert.fail("no skip"));
  assert.equal(u.get("x-ok"), "1");
  const value = u.get("x-name")!;
  assert.deepEqual(Buffer.from(value, "latin1"), Buffer.from("日本", "utf8"));
});

test("C6: joinRepeated uses '; ' for HTTP_COOKIE and ', ' otherwise", () => {
  assert.equal(joinRepeated("HTTP_COOKIE", "a=1", "b=2"), "a=1; b=2");
  assert.equal(joinRepeated("HTTP_ACCEPT", "a", "b"), "a, b");
  assert.equal(joinRepeated("HTTP_X_COOKIE", "a", "b"), "a, b");
});

test("C1: isForbiddenMethod for CONNECT/TRACE/TRACK in any case", () => {
  for (const m of ["CONNECT", "connect", "Trace", "TRACE", "track", "TrAcK"]) {
    assert.equal(isForbiddenMethod(m), true, m);
  }
  for (const m of ["GET", "POST", "OPTIONS", "PATCH", "CONNECTX", ""]) assert.equal(isForbiddenMethod(m), false, m);
});

test("C1: methodOf defaults to GET", () => {
  assert.equal(methodOf({ REQUEST_METHOD: "PUT" }), "PUT");
  assert.equal(methodOf({}), "GET");
});

test("C12: hasBody false for GET/HEAD and for CONTENT_LENGTH 0", () => {
  assert.equal(hasBody("GET", { CONTENT_LENGTH: "10" }), false);
  assert.equal(hasBody("HEAD", { CONTENT_LENGTH: "10" }), false);
  assert.equal(hasBody("POST", { CONTENT_LENGTH: "0" }), false);
  assert.equal(hasBody("POST", { HTTP_CONTENT_LENGTH: "0" }), false);
  assert.equal(hasBody("POST", { CONTENT_LENGTH: "10" }), true);
  assert.equal(hasBody("POST", {}), true); // chunked upload without CONTENT_LENGTH (C4)
  assert.equal(hasBody("PUT", { CONTENT_LENGTH: "-1" }), true);
});

test("requestUrl results parse as URLs", () => {
  const cases: Params[] = [
    { REQUEST_URI: "/x?y=1", HTTP_HOST: "h:1" },
    { SCRIPT_NAME: "/a b", PATH_INFO: "/ü", SERVER_NAME: "::1", SERVER_PORT: "9" },
    { REQUEST_URI: "*", SERVER_NAME: "srv:81" },
  ];
  for (const p of cases) {
    assert.doesNotThrow(() => new URL(requestUrl(p)), JSON.stringify(p));
  }
});

test("C6: mergeParam joins repeated header params; HTTP_HOST and non-header params take the last value", () => {
  assert.equal(mergeParam("HTTP_X_DUP", undefined, "a"), "a");
  assert.equal(mergeParam("HTTP_X_DUP", "a", "b"), "a, b");
  assert.equal(mergeParam("HTTP_COOKIE", "c=1", "d=2"), "c=1; d=2");
  assert.equal(mergeParam("HTTP_HOST", "127.0.0.1", "127.0.0.1:8080"), "127.0.0.1:8080");
  assert.equal(mergeParam("SCRIPT_NAME", "/a", "/b"), "/b");
});

test("parseLength: digits only, else -1", () => {
  assert.equal(parseLength("11"), 11);
  assert.equal(parseLength("-1"), -1);
  assert.equal(parseLength(""), -1);
  assert.equal(parseLength(undefined), -1);
  assert.equal(parseLength("1e3"), -1);
});
