// The arguments shared by the HTTP contenders: where to listen (unix:/path or tcp:HOST:PORT) and,
// optionally, another Fetch module to serve than the bench app (test/soak/cold.ts serves the
// fixtures' app).
export function parseListen(arg) {
  if (arg?.startsWith("unix:")) return { path: arg.slice(5) };
  const m = /^tcp:(.+):(\d+)$/.exec(arg ?? "");
  if (m) return { hostname: m[1], port: Number(m[2]) };
  throw new Error(`usage: … unix:/path | tcp:HOST:PORT (got ${arg})`);
}

/** The module's default export: `file` (relative to the working directory), or bench/app.js. */
export async function loadApp(file) {
  const url = file ? new URL(file, `file://${process.cwd()}/`).href : new URL("../app.js", import.meta.url).href;
  return (await import(url)).default;
}
