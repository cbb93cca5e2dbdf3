// Parses the listen argument shared by the HTTP contenders: unix:/path or tcp:HOST:PORT.
export function parseListen(arg) {
  if (arg?.startsWith("unix:")) return { path: arg.slice(5) };
  const m = /^tcp:(.+):(\d+)$/.exec(arg ?? "");
  if (m) return { hostname: m[1], port: Number(m[2]) };
  throw new Error(`usage: … unix:/path | tcp:HOST:PORT (got ${arg})`);
}
