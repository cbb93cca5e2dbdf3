// The scenarios: the route each one hits, its request body, and what a right answer looks like.

import type { ScenarioName } from "./options.ts";

export interface Scenario {
  name: ScenarioName;
  path: string;
  /** Request body bytes (POST) for the load runs. */
  body?: number;
  /** Whether a response body of `text` is the right answer; returns what is wrong, or undefined. */
  check(text: string): string | undefined;
  /** Allowed response body sizes, to check fcgiload's bodyMin/bodyMax. */
  size: [number, number];
}

const exact = (want: string) =>
(
  t: string,
) => (t === want
  ? undefined
  : `expected ${JSON.stringify(want.slice(0, 40))}, got ${JSON.stringify(t.slice(0, 80))} (${t.length} bytes)`);

export const SCENARIO: Record<Exclude<ScenarioName, "upload">, Scenario> = {
  hello: { name: "hello", path: "/hello", check: exact("Hello, World!"), size: [13, 13] },
  json: {
    name: "json",
    path: "/json",
    size: [900, 1300],
    check: (t) => {
      try {
        const v = JSON.parse(t);
        return v.items?.length === 13 && t.length >= 900 && t.length <= 1300
          ? undefined
          : `unexpected JSON (${t.length} bytes)`;
      } catch {
        return `not JSON: ${JSON.stringify(t.slice(0, 80))}`;
      }
    },
  },
  big: {
    name: "big",
    path: "/big",
    size: [262144, 262144],
    check: (t) => (t.length === 262144 && /^x+$/.test(t) ? undefined : `expected 262144 × "x", got ${t.length} bytes`),
  },
  post: { name: "post", path: "/post", body: 16384, size: [5, 5], check: exact("16384") },
  sse: {
    name: "sse",
    path: "/sse",
    size: [4484, 4484],
    check: (
      t,
    ) => (t.length === 4484 && t.startsWith("id: 1\ndata: ") && t.endsWith('"msg":"Hello, World!"}\n\n')
      ? undefined
      : `unexpected event stream (${t.length} bytes): ${JSON.stringify(t.slice(0, 60))}`),
  },
};
