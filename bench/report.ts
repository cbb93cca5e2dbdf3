// Medians over rounds, and the tables: printed to the console and written as bench/RESULTS.md.

import fs from "node:fs";
import type { Contender } from "./contenders.ts";
import { goalsSection } from "./goals.ts";
import { table } from "./markdown.ts";

export interface Measurement {
  round: number;
  contender: string;
  front: "nginx" | "direct";
  scenario: string;
  conns: number;
  requests: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** Backend process tree CPU (user + system) per request. */
  cpuUsPerReq: number;
  /** nginx (master + worker) CPU per request; nginx front only. */
  nginxUsPerReq?: number;
  /** wrk's or fcgiload's CPU per request. */
  loadgenUsPerReq: number;
  /** Sum of VmHWM over the backend's processes during the cell. */
  peakRssMiB: number;
  /** Sum of VmRSS over the backend's processes just before the cell. */
  rssBeforeMiB?: number;
  errors: number;
  firstError?: string;
  /** Length of the load window; for upload, the upload's time. */
  seconds: number;
  /** fcgiload only: the smallest and largest response body (checked against the scenario). */
  bodyMin?: number;
  bodyMax?: number;
}

/** Resident set of a started, listening backend before its first request, or of a bare runtime process. */
export interface IdleRss {
  round: number;
  /** A contender's name, or "bare RUNTIME". */
  name: string;
  runtime: string;
  rssMiB: number;
}

export interface Failure {
  round: number;
  contender: string;
  message: string;
}

export interface RunInfo {
  date: string;
  command: string;
  /** The commit measured (measuredCommit() in run.ts). */
  commit: string;
  minutes: number;
  facts: Record<string, string>;
  rounds: number;
  duration: number;
  /** Seconds of load per route before each contender was timed. */
  warmup: number;
  transport: string;
  uploadMiB: number;
  phpChildren: number;
  /** Share of the machine's CPU that other processes used while the bench ran. */
  otherLoadPct: number;
  /** Share of the machine's CPU time the hypervisor gave to other guests (steal) meanwhile. */
  stealPct?: number;
  note?: string;
  contenders: Contender[];
  cells: { scenario: string; conns: number }[];
  idle: IdleRss[];
}

export function median(xs: number[]): number {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return NaN;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

type Key = `${string}|${string}|${string}|${number}`;
const key = (front: string, contender: string, scenario: string, conns: number): Key =>
  `${front}|${contender}|${scenario}|${conns}`;

/** The medians of every metric per (front, contender, scenario, conns). */
export function summarize(ms: Measurement[]): Map<Key, Measurement & { rounds: number }> {
  const groups = new Map<Key, Measurement[]>();
  for (const m of ms) {
    const k = key(m.front, m.contender, m.scenario, m.conns);
    groups.set(k, [...(groups.get(k) ?? []), m]);
  }
  const out = new Map<Key, Measurement & { rounds: number }>();
  for (const [k, g] of groups) {
    const med = (f: (m: Measurement) => number | undefined) => median(g.map((m) => f(m) ?? NaN));
    out.set(k, {
      ...g[0],
      round: 0,
      rounds: g.length,
      requests: med((m) => m.requests),
      rps: med((m) => m.rps),
      p50Ms: med((m) => m.p50Ms),
      p99Ms: med((m) => m.p99Ms),
      cpuUsPerReq: med((m) => m.cpuUsPerReq),
      nginxUsPerReq: med((m) => m.nginxUsPerReq),
      loadgenUsPerReq: med((m) => m.loadgenUsPerReq),
      peakRssMiB: med((m) => m.peakRssMiB),
      seconds: med((m) => m.seconds),
      errors: g.reduce((a, m) => a + m.errors, 0),
      firstError: g.find((m) => m.firstError)?.firstError,
    });
  }
  return out;
}

const fmt = {
  n: (
    x: number | undefined,
    digits = 1,
  ) => (x === undefined || !Number.isFinite(x) ? "–" : x >= 100 ? Math.round(x).toString() : x.toFixed(digits)),
  int: (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? "–" : Math.round(x).toString()),
  ms: (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? "–" : x >= 10 ? x.toFixed(1) : x.toFixed(2)),
  ratio: (
    a: number | undefined,
    b: number | undefined,
  ) => (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0
    ? "–"
    : (a / b).toFixed(2)),
};

export function render(info: RunInfo, ms: Measurement[], failures: Failure[]): { summary: string; markdown: string } {
  const s = summarize(ms);
  const get = (front: string, c: string, sc: string, n: number) => s.get(key(front, c, sc, n));
  const cells = info.cells.filter((c) => c.scenario !== "upload");
  const label = (c: { scenario: string; conns: number }) => `${c.scenario}/${c.conns}`;
  const fronts = [...new Set(ms.map((m) => m.front))].filter((f) =>
    ms.some((m) => m.front === f && m.scenario !== "upload")
  );
  const frontName: Record<string, string> = {
    nginx: "wrk → nginx → backend",
    direct: "fcgiload → backend (FastCGI, no nginx)",
  };
  const present = (front: string) =>
    info.contenders.filter((c) => ms.some((m) => m.front === front && m.contender === c.name));

  const summaryTables: string[] = [];
  for (const front of fronts) {
    const rows = (f: (m: Measurement) => string) =>
      present(front).map((c) => [
        c.name,
        ...cells.map((cell) => {
          const m = get(front, c.name, cell.scenario, cell.conns);
          return m ? f(m) + (m.errors ? " ⚠" : "") : "–";
        }),
      ]);
    summaryTables.push(
      `### Backend CPU µs per request — ${frontName[front]}\n\n${
        table(
          ["contender", ...cells.map(label)],
          rows((m) => fmt.n(m.cpuUsPerReq)),
        )
      }`,
    );
    summaryTables.push(
      `### Requests per second — ${frontName[front]}\n\n${
        table(
          ["contender", ...cells.map(label)],
          rows((m) => fmt.int(m.rps)),
        )
      }`,
    );
  }

  const uploads = info.contenders.filter((c) => ms.some((m) => m.contender === c.name && m.scenario === "upload"));
  let uploadTable = "";
  if (uploads.length) {
    const up = (front: string, c: string) => get(front, c, "upload", 1);
    uploadTable = `### Upload of ${info.uploadMiB} MiB (one request, streamed)\n\n` + table(
      [
        "contender",
        "via nginx: s",
        "backend CPU ms",
        "peak RSS MiB",
        "RSS growth MiB",
        "direct: s",
        "backend CPU ms",
        "peak RSS MiB",
        "RSS growth MiB",
      ],
      uploads.map((c) => {
        const a = up("nginx", c.name), b = up("direct", c.name);
        const growth = (m: Measurement) => (m.rssBeforeMiB === undefined ? "–" : fmt.n(m.peakRssMiB - m.rssBeforeMiB));
        const cell = (m?: Measurement) =>
          m
            ? [fmt.ms(m.seconds) + (m.errors ? " ⚠" : ""), fmt.n(m.cpuUsPerReq / 1000), fmt.n(m.peakRssMiB), growth(m)]
            : ["–", "–", "–", "–"];
        return [c.name, ...cell(a), ...cell(b)];
      }),
    );
  }

  // Idle RSS: fetchcgi and the HTTP way on each runtime beside a bare process of that runtime.
  const idleOf = (name: string) => median(info.idle.filter((i) => i.name === name).map((i) => i.rssMiB));
  let idleTable = "";
  const idleRuntimes = [...new Set(info.idle.filter((i) => i.name.startsWith("bare ")).map((i) => i.runtime))];
  if (idleRuntimes.length) {
    const rows = idleRuntimes.map((rt) => {
      const bare = idleOf(`bare ${rt}`);
      const mine = info.contenders.find((c) => c.name.startsWith("fetchcgi-") && c.runtime === rt);
      const http = info.contenders.find((c) => c.kind === "http" && c.runtime === rt);
      const f = mine ? idleOf(mine.name) : NaN, h = http ? idleOf(http.name) : NaN;
      return [
        rt,
        fmt.n(bare),
        fmt.n(f),
        Number.isFinite(f) ? fmt.n(f - bare) : "–",
        http ? `${fmt.n(h)} (${http.name})` : "–",
      ];
    });
    idleTable =
      `### Idle RSS MiB (started and listening, before the first request; ${
        info.rounds > 1 ? "medians" : "one round"
      })\n\n` +
      table(["runtime", "bare runtime process", "fetchcgi", "fetchcgi − bare (goal ≤ 5)", "the HTTP way"], rows);
  }

  // fetchcgi on runtime X against the HTTP way on X, and against Go's net/http/fcgi.
  const ratioRows: string[][] = [];
  const fetchcgi = info.contenders.filter((c) => c.name.startsWith("fetchcgi-"));
  const ratioCell = (front: string, a: string, b: string, cell: { scenario: string; conns: number }) => {
    const x = get(front, a, cell.scenario, cell.conns), y = get(front, b, cell.scenario, cell.conns);
    if (!x || !y) return "–";
    return `${fmt.ratio(x.cpuUsPerReq, y.cpuUsPerReq)} · ${fmt.ratio(x.rps, y.rps)}`;
  };
  const floors = info.contenders.filter((c) => c.name.startsWith("floor-"));
  for (const f of fetchcgi) {
    const http = info.contenders.find((c) => c.kind === "http" && c.runtime === f.runtime);
    if (http && fronts.includes("nginx")) {
      ratioRows.push([
        `${f.name} ÷ ${http.name} (nginx)`,
        ...cells.map((cell) => ratioCell("nginx", f.name, http.name, cell)),
      ]);
    }
    for (const front of fronts) {
      ratioRows.push([
        `${f.name} ÷ go-fcgi (${front})`,
        ...cells.map((cell) => ratioCell(front, f.name, "go-fcgi", cell)),
      ]);
    }
    const floor = floors.find((c) => c.runtime === f.runtime);
    if (floor && fronts.includes("nginx")) {
      ratioRows.push([
        `${f.name} ÷ ${floor.name} (nginx)`,
        ...cells.map((cell) => ratioCell("nginx", f.name, floor.name, cell)),
      ]);
    }
  }
  // How close to the HTTP way any FastCGI worker on that runtime's sockets can come.
  for (const floor of floors) {
    const http = info.contenders.find((c) => c.kind === "http" && c.runtime === floor.runtime);
    if (http && fronts.includes("nginx")) {
      ratioRows.push([
        `${floor.name} ÷ ${http.name} (nginx)`,
        ...cells.map((cell) => ratioCell("nginx", floor.name, http.name, cell)),
      ]);
    }
  }
  const usefulRatios = ratioRows.filter((r) => r.slice(1).some((v) => v !== "–"));
  const ratioTable = usefulRatios.length
    ? `### Ratios: backend CPU per request · req/s (the first ÷ the second; CPU below 1 and req/s above 1 favour the first)\n\n${
      table(["pair", ...cells.map(label)], usefulRatios)
    }`
    : "";

  const failureText = failures.length
    ? `### Failures\n\n${
      failures.map((f) => `- round ${f.round}, ${f.contender}: ${f.message.split("\n").slice(0, 6).join(" ⏎ ")}`).join(
        "\n",
      )
    }`
    : "";
  const errorCells = [...s.values()].filter((m) => m.errors);
  const errorText = errorCells.length
    ? `### Cells with errors (⚠)\n\n${
      errorCells.map((m) =>
        `- ${m.front} ${m.contender} ${m.scenario}/${m.conns}: ${m.errors} errors over all rounds (${
          m.firstError ?? ""
        })`
      ).join("\n")
    }`
    : "";

  const summary = [...summaryTables, uploadTable, idleTable, ratioTable, errorText, failureText].filter(Boolean).join(
    "\n\n",
  );
  const goals = goalsSection({
    cell: (c, sc, n) => get("nginx", c, sc, n),
    idle: idleOf,
    uploadMiB: info.uploadMiB,
  });

  const details: string[] = [];
  for (const front of fronts) {
    for (const cell of cells) {
      const rows = present(front).map((c) => get(front, c.name, cell.scenario, cell.conns)).filter((m) =>
        m !== undefined
      ).map((m) => [
        m.contender,
        fmt.int(m.rps),
        fmt.n(m.cpuUsPerReq),
        ...(front === "nginx" ? [fmt.n(m.nginxUsPerReq)] : []),
        fmt.n(m.loadgenUsPerReq),
        fmt.ms(m.p50Ms),
        fmt.ms(m.p99Ms),
        fmt.n(m.peakRssMiB),
        String(m.errors),
      ]);
      if (!rows.length) continue;
      const head = [
        "contender",
        "req/s",
        "backend CPU µs/req",
        ...(front === "nginx" ? ["nginx CPU µs/req"] : []),
        front === "nginx" ? "wrk CPU µs/req" : "fcgiload CPU µs/req",
        "p50 ms",
        "p99 ms",
        "peak RSS MiB",
        "errors",
      ];
      details.push(
        `### ${front} · ${cell.scenario} · ${cell.conns} connection${cell.conns === 1 ? "" : "s"}\n\n${
          table(head, rows)
        }`,
      );
    }
  }

  const steal = info.stealPct ?? 0;
  const loaded = info.otherLoadPct + steal;
  const loadWhat = `other processes used ${
    info.otherLoadPct.toFixed(0)
  } % of all CPU time while it ran (the bench's own processes excluded) and the hypervisor took ${
    steal.toFixed(0)
  } % for other guests (steal)`;
  const loadNote = loaded >= 5
    ? `**The machine was loaded by other work during this run**: ${loadWhat}. Rates and latencies are noisy; CPU per request holds up better. Rerun on a quiet machine for numbers to quote.`
    : `Other work on the machine: ${loadWhat}.`;

  const markdown = `# fetchcgi benchmark results

Generated by \`${info.command}\` on ${info.date} at commit \`${info.commit}\`; the run took ${
    info.minutes.toFixed(1)
  } min.
Medians of ${info.rounds} round${
    info.rounds === 1 ? "" : "s"
  }, ${info.duration} s per cell after ${info.warmup} s of load per route, backends on ${info.transport}, contenders interleaved within each round.
See bench/README.md for what each figure means and how CPU is measured.

${loadNote}
${info.note ? `\nNote: ${info.note}\n` : ""}
## Machine and versions

${table(["", ""], Object.entries(info.facts).map(([k, v]) => [k, v]), true)}

## Contenders

${
    info.contenders.map((c) =>
      `- **${c.name}**: ${c.describe}${
        c.kind === "fcgi"
          ? (c.keepConn
            ? "; persistent connections (fastcgi_keep_conn + keepalive 64)"
            : `; a new connection per request (${c.keepNote})`)
          : ""
      }${c.name === "php-fpm" ? `; ${info.phpChildren} children` : ""}`
    ).join("\n")
  }

${goals}
## Summary

${summary}

${profile()}
## Details (medians)

${details.join("\n\n")}
`;
  return { summary, markdown };
}

/** bench/PROFILE.md (hand-written: where the time goes), copied into every report. */
function profile(): string {
  try {
    return fs.readFileSync(new URL("./PROFILE.md", import.meta.url), "utf8") + "\n";
  } catch {
    return "";
  }
}
