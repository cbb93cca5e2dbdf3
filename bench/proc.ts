// /proc sampling: CPU time and peak RSS of a process tree (a backend and all its descendants).

import { execFileSync } from "node:child_process";
import fs from "node:fs";

function clockTicks(): number {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100; // USER_HZ is 100 on every Linux architecture that matters here
  }
}

const TICKS_PER_SECOND = clockTicks();

/** The fields of /proc/PID/stat after the command name (which may hold spaces and parentheses). */
function statFields(pid: number | "self"): string[] | undefined {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return text.slice(text.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined; // gone
  }
}

// Field numbers from proc(5), minus 3 for the pid, comm and the split-off start.
const PPID = 1, UTIME = 11, STIME = 12, CUTIME = 13, CSTIME = 14;

/** `root` and all its live descendants. */
export function tree(root: number): number[] {
  const parent = new Map<number, number>();
  for (const name of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const f = statFields(Number(name));
    if (f) parent.set(Number(name), Number(f[PPID]));
  }
  const out = [root];
  for (let i = 0; i < out.length; i++) {
    for (const [pid, ppid] of parent) if (ppid === out[i]) out.push(pid);
  }
  return out.filter((p) => parent.has(p));
}

/**
 * CPU seconds (user + system) used so far by the tree: each live process, plus what its reaped
 * children used (cutime/cstime), so a child that exits inside the window is still counted.
 */
export function cpuSeconds(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    const f = statFields(pid);
    if (f) ticks += Number(f[UTIME]) + Number(f[STIME]) + Number(f[CUTIME]) + Number(f[CSTIME]);
  }
  return ticks / TICKS_PER_SECOND;
}

/** CPU seconds that this process's reaped children (wrk, fcgiload…) have used so far. */
export function childrenCpuSeconds(): number {
  const f = statFields("self")!;
  return (Number(f[CUTIME]) + Number(f[CSTIME])) / TICKS_PER_SECOND;
}

/** CPU seconds this process and all its reaped children used. */
export function ownCpuSeconds(): number {
  const f = statFields("self")!;
  return (Number(f[UTIME]) + Number(f[STIME]) + Number(f[CUTIME]) + Number(f[CSTIME])) / TICKS_PER_SECOND;
}

/** Sets each process's VmHWM back to its current RSS (proc(5), clear_refs "5"), so the next peak is this window's. */
export function resetPeak(pids: number[]): void {
  for (const pid of pids) {
    try {
      fs.writeFileSync(`/proc/${pid}/clear_refs`, "5");
    } catch {
      // gone, or not ours: its peak then covers its whole life
    }
  }
}

/** Sum of VmHWM (peak resident set) over the tree, in KiB. */
export function peakRssKiB(pids: number[]): number {
  return statusKiB(pids, /VmHWM:\s+(\d+) kB/);
}

/** Sum of VmRSS (resident set now) over the tree, in KiB. */
export function rssKiB(pids: number[]): number {
  return statusKiB(pids, /VmRSS:\s+(\d+) kB/);
}

function statusKiB(pids: number[], field: RegExp): number {
  let kib = 0;
  for (const pid of pids) {
    try {
      const m = field.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
      if (m) kib += Number(m[1]);
    } catch {
      // gone
    }
  }
  return kib;
}

/**
 * Busy and total CPU seconds of the whole machine (/proc/stat), to tell how loaded it was; `steal`
 * is the time the hypervisor gave this machine's CPUs to other guests (part of `busy`).
 */
export function machineCpu(): { busy: number; total: number; steal: number } {
  const line = fs.readFileSync("/proc/stat", "utf8").split("\n")[0];
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest is already inside user)
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = v[3] + v[4];
  return {
    busy: (total - idle) / TICKS_PER_SECOND,
    total: total / TICKS_PER_SECOND,
    steal: (v[7] ?? 0) / TICKS_PER_SECOND,
  };
}
