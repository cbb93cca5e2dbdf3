// Issue 4's goals, read off one run: each goal per runtime, the figure of every cell it names, and
// whether it was met. Why a goal is not met is bench/PROFILE.md's job (hand-written from profiles).

import { table } from "./markdown.ts";

/** The median of one cell (nginx front), or undefined when the run did not measure it. */
export type CellOf = (
  contender: string,
  scenario: string,
  conns: number,
) => { cpuUsPerReq: number; peakRssMiB: number; rssBeforeMiB?: number } | undefined;

interface RuntimeGoal {
  runtime: string;
  /** The runtime as contenders.ts names it (the bare process's idle RSS is "bare KEY"). */
  key: string;
  fetchcgi: string;
  /** The HTTP way of serving the same handler on that runtime. */
  http: string;
  /** fetchcgi's CPU per request ÷ Go net/http/fcgi's, at most. */
  goRatio: number;
}

const RUNTIMES: RuntimeGoal[] = [
  { runtime: "Node 20", key: "node20", fetchcgi: "fetchcgi-node20", http: "node20-http", goRatio: 0.5 },
  { runtime: "Node 24", key: "node24", fetchcgi: "fetchcgi-node24", http: "node24-http", goRatio: 0.5 },
  { runtime: "Bun", key: "bun", fetchcgi: "fetchcgi-bun", http: "bun-serve", goRatio: 0.3 },
  { runtime: "Deno", key: "deno", fetchcgi: "fetchcgi-deno", http: "deno-serve", goRatio: 0.3 },
];

const SMALL = [["hello", 1], ["hello", 64], ["json", 1], ["json", 64]] as const;
const BIG = [["big", 1], ["big", 64]] as const;

export interface GoalInputs {
  cell: CellOf;
  /** Median idle RSS (MiB) of a contender, or of "bare RUNTIME"; NaN when not measured. */
  idle: (name: string) => number;
  uploadMiB: number;
}

interface Row {
  cells: string[];
  /** Whether any cell of the row was measured. */
  measured: boolean;
  verdict: string;
}

/** One row: the runtime, a figure per cell with ✓/✗, and the verdict over the cells measured. */
function row(runtime: string, figures: (number | undefined)[], limit: number, strict = false): Row {
  const measured = figures.filter((x): x is number => x !== undefined && Number.isFinite(x));
  const ok = (x: number) => (strict ? x < limit : x <= limit);
  const cells = figures.map((
    x,
  ) => (x === undefined || !Number.isFinite(x) ? "–" : `${x.toFixed(2)} ${ok(x) ? "✓" : "✗"}`));
  const verdict = measured.length === 0
    ? "not measured"
    : !measured.every(ok)
    ? "**not met**"
    : measured.length < figures.length
    ? "**met** where measured"
    : "**met**";
  return { cells: [runtime, ...cells], measured: measured.length > 0, verdict };
}

/** A goal: its title, the cells' heads, and a row per runtime. */
type Goal = [title: string, head: string[], rows: Row[]];

const ratio = (
  a: number | undefined,
  b: number | undefined,
) => (a === undefined || b === undefined || b === 0 ? undefined : a / b);

/** The goals section of RESULTS.md, or "" when the run measured none of them. */
export function goalsSection(g: GoalInputs): string {
  const cpu = (c: string, s: string, n: number) => g.cell(c, s, n)?.cpuUsPerReq;
  const vs = (a: string, b: string, cells: readonly (readonly [string, number])[]) =>
    cells.map(([s, n]) => ratio(cpu(a, s, n), cpu(b, s, n)));
  const small = SMALL.map(([s, n]) => `${s}/${n}`);
  const big = BIG.map(([s, n]) => `${s}/${n}`);
  const goals: Goal[] = [
    [
      "fetchcgi's CPU per request ÷ the HTTP way's on the same runtime (Bun.serve, Deno.serve, node:http + @hono/node-server), ≤ 1.0",
      ["runtime", ...small],
      RUNTIMES.map((r) => row(r.runtime, vs(r.fetchcgi, r.http, SMALL), 1.0)),
    ],
    [
      "fetchcgi's CPU per request ÷ Go net/http/fcgi's, ≤ 0.5 on Node and ≤ 0.3 on Bun and Deno",
      ["runtime", ...small],
      RUNTIMES.map((r) => row(`${r.runtime} (≤ ${r.goRatio})`, vs(r.fetchcgi, "go-fcgi", SMALL), r.goRatio)),
    ],
    [
      "big: fetchcgi's CPU per request ÷ the HTTP way's, ≤ 1.1",
      ["runtime", ...big],
      RUNTIMES.map((r) => row(r.runtime, vs(r.fetchcgi, r.http, BIG), 1.1)),
    ],
    [
      `RSS growth of the ${g.uploadMiB} MiB upload through nginx, < 32 MiB (MiB; the 1 GiB figures, warm and from a cold start, are in docs/reliability.md)`,
      ["runtime", "growth MiB"],
      RUNTIMES.map((r) => {
        const m = g.cell(r.fetchcgi, "upload", 1);
        return row(r.runtime, [m?.rssBeforeMiB === undefined ? undefined : m.peakRssMiB - m.rssBeforeMiB], 32, true);
      }),
    ],
    [
      "Idle RSS over a bare runtime process, ≤ 5 MiB",
      ["runtime", "MiB"],
      RUNTIMES.map((r) => row(r.runtime, [g.idle(r.fetchcgi) - g.idle(`bare ${r.key}`)], 5)),
    ],
  ];
  const measured = goals.filter(([, , rows]) => rows.some((r) => r.measured));
  if (!measured.length) return "";
  return `## The goals (issue 4), from this run

Each figure is one cell's median through nginx; ✓ marks a cell within its goal. Where a goal is not
met, "Where the time goes" below says what the profiles show the time goes to.

${
    measured.map(([title, head, rows]) =>
      `**${title}**\n\n${table([...head, "goal"], rows.map((r) => [...r.cells, r.verdict]))}`
    ).join("\n\n")
  }
`;
}
