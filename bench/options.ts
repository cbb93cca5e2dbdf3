// Command-line options of `npm run bench` (node bench/run.ts).

export const SCENARIOS = ["hello", "json", "big", "post", "sse", "upload"] as const;
export type ScenarioName = (typeof SCENARIOS)[number];
export const FRONTS = ["nginx", "direct"] as const;
export type Front = (typeof FRONTS)[number];

export interface Options {
  rounds: number;
  /** Seconds per cell (wrk takes whole seconds). */
  duration: number;
  /** Seconds of load per route before a contender is timed (0: only the check). */
  warmup: number;
  only?: string[];
  scenarios: ScenarioName[];
  conns: number[];
  fronts: Front[];
  tcp: boolean;
  uploadBytes: number;
  phpChildren: number;
  /** Markdown report; undefined: none (quick runs). */
  out?: string;
  json?: string;
  build: boolean;
  quick: boolean;
  note?: string;
}

export const HELP = `npm run bench -- [options]        (node bench/run.ts [options])

Side-by-side benchmark of fetchcgi (Node 20, Node 24, Bun, Deno) against Go net/http/fcgi,
PHP-FPM, node-fastcgi, Bun.serve, Deno.serve and node:http (+ @hono/node-server) behind one
nginx, and directly with a FastCGI load generator. Prints medians and writes bench/RESULTS.md.

  --quick              smoke check: 1 round, 1 s cells, hello/post/sse/upload at 64 connections,
                       a 16 MiB upload
  --rounds N           rounds; contenders are interleaved within a round (default 3)
  --duration S         whole seconds per cell (default 1)
  --warmup S           whole seconds of load per route before a contender is timed, so that
                       the JIT has compiled the hot path (default 1; 0: ~320 requests only)
  --only A,B           contenders by name, e.g. fetchcgi-bun,bun-serve (see the list below)
  --scenarios A,B      any of ${SCENARIOS.join(",")} (default: all)
  --conns A,B          connection counts (default 1,64)
  --front A,B          nginx (wrk → nginx → backend) and/or direct (fcgiload → backend);
                       default both
  --tcp                backends listen on 127.0.0.1 TCP instead of Unix sockets
  --upload-mib N       size of the upload scenario (default 64)
  --php-children N     PHP-FPM static pool size (default 8)
  --out FILE           Markdown report (default bench/RESULTS.md, but only for a full run: none
                       with --quick, --only, --scenarios, --conns or --front unless given)
  --json FILE          also write every measurement as JSON
  --note TEXT          a line for the report (e.g. "quiet machine")
  --no-build           do not run npm run build first (dist/ must be current)
  -h, --help           this text
`;

export function parseOptions(argv: string[], contenderNames: string[]): Options {
  const o: Options = {
    rounds: 3,
    duration: 1,
    warmup: 1,
    scenarios: [...SCENARIOS],
    conns: [1, 64],
    fronts: [...FRONTS],
    tcp: false,
    uploadBytes: 64 << 20,
    phpChildren: 8,
    out: "bench/RESULTS.md",
    build: true,
    quick: false,
  };
  const set = new Set<string>();
  const list = (v: string) => v.split(",").map((s) => s.trim()).filter(Boolean);
  const int = (name: string, v: string, min = 1) => {
    if (!/^\d+$/.test(v) || Number(v) < min) {
      throw new Error(`${name} needs a whole number ≥ ${min}, got ${JSON.stringify(v)}`);
    }
    return Number(v);
  };
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i];
    let value: string | undefined;
    const eq = arg.indexOf("=");
    if (arg.startsWith("--") && eq > 0) [arg, value] = [arg.slice(0, eq), arg.slice(eq + 1)];
    const take = () => {
      if (value !== undefined) return value;
      if (i + 1 >= argv.length) throw new Error(`${arg} needs a value`);
      return argv[++i];
    };
    set.add(arg);
    switch (arg) {
      case "-h":
      case "--help":
        throw new HelpRequested();
      case "--quick":
        o.quick = true;
        break;
      case "--rounds":
        o.rounds = int(arg, take());
        break;
      case "--duration":
        o.duration = int(arg, take());
        break;
      case "--warmup":
        o.warmup = int(arg, take(), 0);
        break;
      case "--only":
        o.only = list(take());
        break;
      case "--scenarios":
        o.scenarios = list(take()) as ScenarioName[];
        break;
      case "--conns":
        o.conns = list(take()).map((c) => int(arg, c));
        break;
      case "--front":
        o.fronts = list(take()) as Front[];
        break;
      case "--tcp":
        o.tcp = true;
        break;
      case "--upload-mib":
        o.uploadBytes = int(arg, take()) << 20;
        break;
      case "--php-children":
        o.phpChildren = int(arg, take());
        break;
      case "--out":
        o.out = take();
        break;
      case "--json":
        o.json = take();
        break;
      case "--note":
        o.note = take();
        break;
      case "--no-build":
        o.build = false;
        break;
      default:
        throw new Error(`unknown option ${argv[i]}`);
    }
  }
  if (o.quick) {
    if (!set.has("--rounds")) o.rounds = 1;
    if (!set.has("--scenarios")) o.scenarios = ["hello", "post", "sse", "upload"];
    if (!set.has("--conns")) o.conns = [64];
    if (!set.has("--upload-mib")) o.uploadBytes = 16 << 20;
  }
  // Only a full run replaces bench/RESULTS.md; a quick or partial one writes a report only when asked.
  const partial = ["--quick", "--only", "--scenarios", "--conns", "--front"].some((a) => set.has(a));
  if (partial && !set.has("--out")) o.out = undefined;
  for (const s of o.scenarios) {
    if (!SCENARIOS.includes(s)) throw new Error(`unknown scenario ${s} (known: ${SCENARIOS.join(", ")})`);
  }
  for (const f of o.fronts) {
    if (!FRONTS.includes(f)) throw new Error(`unknown front ${f} (known: ${FRONTS.join(", ")})`);
  }
  for (const c of o.only ?? []) {
    if (!contenderNames.includes(c)) throw new Error(`unknown contender ${c} (known: ${contenderNames.join(", ")})`);
  }
  return o;
}

export class HelpRequested extends Error {}
