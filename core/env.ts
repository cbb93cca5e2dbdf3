// A request's params (names and values in arrival order) → the handler's frozen `env` object and
// its header params as a header list (by cgi.ts's rule). A web server sends the same names in the
// same order on every request, so once a sequence of names repeats it gets a layout: an object
// literal compiled for those names (one allocation, one hidden class, instead of a store per param
// into a growing object) and cgi.ts's header plan for them (no walk over the object's keys). A name
// sent twice (a config that includes fastcgi_params and sets SCRIPT_FILENAME again) is merged by
// the same rule as plainEnv's, inside the compiled literal.

import { type HeaderPlan, headerPlan, mergeParam, plannedHeaders } from "./cgi.ts";
import type { Params } from "./types.ts";

interface Layout {
  readonly names: readonly string[];
  readonly build: (values: readonly string[]) => Record<string, string>;
  readonly headers: HeaderPlan;
}

/** Layouts compiled so far; a peer sending ever new name sequences cannot grow this past MAX_LAYOUTS. */
const layouts: Layout[] = [];
const MAX_LAYOUTS = 16;
const MAX_NAMES = 128;
/** The last sequence without a layout: it gets one when the next request repeats it. */
let candidate: readonly string[] | null = null;
/** False where code generation is refused (e.g. --disallow-code-generation-from-strings). */
let canCompile = true;

export interface BuiltParams {
  env: Params;
  /** The header params as [header, value] (cgi.ts plannedHeaders), or null: headerList finds them in env. */
  headers: [string, string][] | null;
}

export function buildParams(names: string[], values: string[]): BuiltParams {
  const layout = layoutFor(names);
  if (layout === null) return { env: Object.freeze(plainEnv(names, values)), headers: null };
  const env = layout.build(values);
  // Read before the freeze: the other order measured slower (buildParams + headerList, Node 24).
  const headers = plannedHeaders(layout.headers, values, env);
  return { env: Object.freeze(env), headers };
}

/** Any params: one store per pair, a repeated header joined (C6), `__proto__` ignored. */
function plainEnv(names: string[], values: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (let i = 0; i < names.length; i++) {
    const name = names[i];
    if (name === "__proto__") continue;
    env[name] = mergeParam(name, env[name], values[i]);
  }
  return env;
}

function layoutFor(names: string[]): Layout | null {
  for (let i = layouts.length - 1; i >= 0; i--) {
    if (sameNames(layouts[i].names, names)) return layouts[i];
  }
  if (candidate === null || !sameNames(candidate, names)) {
    candidate = names;
    return null;
  }
  candidate = null;
  if (!canCompile || layouts.length >= MAX_LAYOUTS || names.length > MAX_NAMES) return null;
  const layout = compile(names);
  if (layout) layouts.push(layout);
  return layout;
}

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * A layout for the names (null where code generation is refused): each name once, at its first
 * position, its value merged over every position it has (mergeParam, as plainEnv does);
 * `__proto__` left out, as plainEnv leaves it.
 */
function compile(names: readonly string[]): Layout | null {
  const positions = new Map<string, number[]>();
  names.forEach((name, at) => {
    if (name === "__proto__") return;
    const seen = positions.get(name);
    if (seen) seen.push(at);
    else positions.set(name, [at]);
  });
  const fields: string[] = [];
  for (const [name, at] of positions) {
    // Each name is embedded as a JSON string literal, so no name can be anything but a key.
    const key = JSON.stringify(name);
    let value = `v[${at[0]}]`;
    for (let i = 1; i < at.length; i++) value = `m(${key}, ${value}, v[${at[i]}])`;
    fields.push(`${key}: ${value}`);
  }
  try {
    const make = new Function("m", `return (v) => ({ ${fields.join(", ")} });`) as (
      m: typeof mergeParam,
    ) => Layout["build"];
    return { names: names.slice(), build: make(mergeParam), headers: headerPlan(positions) };
  } catch {
    canCompile = false;
    return null;
  }
}
