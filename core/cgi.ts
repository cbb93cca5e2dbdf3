// The CGI mapping (RFC 3875 §4; rules C1–C12 in docs/protocol.md), in one place: which params
// make the method, the body's length and the URL, which become request headers and under what
// name, how a repeated one merges, and which values are secrets. env.ts applies the header rule
// to a name sequence once (its layouts), the exchange applies the rest to each request's env;
// request.ts builds the runtime's Request from what comes out.

import type { Params } from "./types.ts";

// ── Method and body (C1, C4, C12) ──

/** Methods a Request cannot carry (Fetch forbids them); answered 405 without calling the handler. */
const FORBIDDEN_METHODS = new Set(["CONNECT", "TRACE", "TRACK"]);

export function isForbiddenMethod(method: string): boolean {
  // The usual methods skip the upper-casing, which every request would pay.
  if (method === "GET" || method === "POST" || method === "HEAD") return false;
  return FORBIDDEN_METHODS.has(method.toUpperCase());
}

export function methodOf(params: Params): string {
  return params.REQUEST_METHOD || "GET";
}

/** Whether STDIN becomes the request body: never for GET/HEAD (C12), not for a declared empty body. */
export function hasBody(method: string, params: Params): boolean {
  if (method === "GET" || method === "HEAD") return false;
  const length = params.CONTENT_LENGTH ?? params.HTTP_CONTENT_LENGTH;
  return length !== "0";
}

/** A length param as a number, or -1 when unknown (absent, `-1` from Caddy, or malformed). */
export function parseLength(value: string | undefined): number {
  return value && /^\d{1,15}$/.test(value) ? Number(value) : -1;
}

/** The declared body length, or -1 when unknown. */
export function declaredLength(params: Params): number {
  return parseLength(params.CONTENT_LENGTH || params.HTTP_CONTENT_LENGTH);
}

// ── URL (C2, C3, C7, C10) ──

function isOn(value: string | undefined): boolean {
  return value !== undefined && value !== "" && value.toLowerCase() !== "off" && value !== "0";
}

/** The absolute URL: REQUEST_URI (raw, C3) on HTTP_HOST or SERVER_NAME:SERVER_PORT (C7), scheme from HTTPS/REQUEST_SCHEME (C10). */
export function requestUrl(p: Params): string {
  const given = p.REQUEST_SCHEME;
  const https = isOn(p.HTTPS) || given === "https" || (given !== "http" && given?.toLowerCase() === "https");
  const scheme = https ? "https" : "http";
  let path = p.REQUEST_URI;
  if (path) {
    // Apache, h2o and HAProxy pass an absolute-form request line as is.
    if (/^https?:\/\//i.test(path)) return path;
    if (path[0] !== "/") path = "/" + path; // `OPTIONS *`
  } else {
    const script = (p.SCRIPT_NAME ?? "") + (p.PATH_INFO ?? "");
    path = encodeURI(script || "/").replaceAll("?", "%3F").replaceAll("#", "%23") +
      (p.QUERY_STRING ? "?" + p.QUERY_STRING : "");
    if (path[0] !== "/") path = "/" + path;
  }
  return `${scheme}://${authority(p, https)}${path}`;
}

function authority(p: Params, https: boolean): string {
  if (p.HTTP_HOST) return p.HTTP_HOST;
  let name = p.SERVER_NAME || p.SERVER_ADDR || "localhost";
  const colons = name.split(":").length - 1;
  if (colons > 1 && name[0] !== "[") name = `[${name}]`; // a bare IPv6 address
  else if (colons === 1) return name; // HAProxy's SERVER_NAME carries the port already
  const port = p.SERVER_PORT;
  if (!port || port === (https ? "443" : "80")) return name;
  return `${name}:${port}`;
}

// ── Headers (C5, C6) ──

/** Header names by param, for the names every request repeats. */
const headerNames = new Map<string, string>();

/**
 * The header an HTTP_* param becomes as it is (HTTP_ACCEPT_LANGUAGE → accept-language), or null:
 * not a header param, or the content type or length, which headerList merges with its CGI twin.
 */
export function headerOf(param: string): string | null {
  // 72 = "H": most params are not headers, and this rules them out at the first character.
  if (param.charCodeAt(0) !== 72 || !param.startsWith("HTTP_")) return null;
  if (param === "HTTP_CONTENT_TYPE" || param === "HTTP_CONTENT_LENGTH") return null;
  let name = headerNames.get(param);
  if (name === undefined) {
    name = param.slice(5).toLowerCase().replaceAll("_", "-");
    if (headerNames.size < 1024) headerNames.set(param, name);
  }
  return name;
}

/**
 * The header params of a name sequence, worked out once for env.ts's layout of it: [position,
 * header, param] each; position -1 for a param sent more than once, whose merged value env holds.
 */
export type HeaderPlan = readonly (readonly [number, string, string])[];

/** The plan for a sequence's names, each with the positions it has (first position first). */
export function headerPlan(positions: ReadonlyMap<string, readonly number[]>): HeaderPlan {
  const plan: [number, string, string][] = [];
  for (const [param, at] of positions) {
    const header = headerOf(param);
    if (header !== null) plan.push([at.length === 1 ? at[0] : -1, header, param]);
  }
  return plan;
}

/** A layout's header params as [header, value], from the request's values (and env for a repeated one). */
export function plannedHeaders(plan: HeaderPlan, values: readonly string[], env: Params): [string, string][] {
  const list: [string, string][] = [];
  for (const [at, header, param] of plan) list.push([header, at >= 0 ? values[at] : env[param]]);
  return list;
}

/** Any params' header params as [header, value], found by walking them (no layout). */
function httpHeaders(p: Params): [string, string][] {
  const list: [string, string][] = [];
  for (const key in p) {
    const header = headerOf(key);
    if (header !== null) list.push([header, p[key]]);
  }
  return list;
}

/**
 * The request's header list. `fromParams`, when the caller has it (plannedHeaders, through
 * env.ts), holds the header params as headers; else they are read from `p`.
 */
export function headerList(p: Params, fromParams: [string, string][] | null = null): [string, string][] {
  const list = fromParams ?? httpHeaders(p);
  const type = p.CONTENT_TYPE || p.HTTP_CONTENT_TYPE;
  if (type) list.push(["content-type", type]);
  const length = declaredLength(p);
  if (length >= 0) list.push(["content-length", String(length)]);
  if (p.HTTP_AUTHORIZATION === undefined) {
    // Apache hides Authorization unless a SetEnvIf/RewriteRule (or CGIPassAuth) puts it back.
    const auth = p.REDIRECT_HTTP_AUTHORIZATION;
    if (auth) list.push(["authorization", auth]);
  }
  return list;
}

/**
 * The value of a param seen again: repeated header params are joined (C6; nginx sends one per
 * header line). Any other param, and HTTP_HOST (repeated only by a `fastcgi_param HTTP_HOST`
 * override), takes the last value.
 */
export function mergeParam(name: string, prev: string | undefined, value: string): string {
  if (prev === undefined || !name.startsWith("HTTP_") || name === "HTTP_HOST") return value;
  return joinRepeated(name, prev, value);
}

/** Joins a repeated param (C6): cookies with "; ", other headers with ", ". */
export function joinRepeated(name: string, first: string, next: string): string {
  return first + (name === "HTTP_COOKIE" ? "; " : ", ") + next;
}

// ── Secrets ──

/** Params whose values are credentials: the param decoder (pairs.ts) never keeps them past their request. */
export const SECRET_PARAMS: ReadonlySet<string> = new Set([
  "HTTP_AUTHORIZATION",
  "HTTP_PROXY_AUTHORIZATION",
  "HTTP_COOKIE",
  "REDIRECT_HTTP_AUTHORIZATION",
  "PHP_AUTH_PW",
  "REMOTE_PASSWD",
]);
