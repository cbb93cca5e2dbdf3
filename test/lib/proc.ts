// What a worker process holds, read from /proc (Linux only): resident memory and open descriptors.

import fs from "node:fs";

/** Resident set size of `pid` in bytes (VmRSS). */
export function rss(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) * 1024;
}

/** Number of open file descriptors of `pid`. */
export function fdCount(pid: number): number {
  return fs.readdirSync(`/proc/${pid}/fd`).length;
}

export const MiB = 1 << 20;

/** Samples rss(pid) every `ms` until stop() and reports the peak. */
export function rssPeak(pid: number, ms = 25): { stop(): number } {
  let peak = rss(pid);
  const t = setInterval(() => {
    try {
      peak = Math.max(peak, rss(pid));
    } catch {
      // the process is gone; the test will notice otherwise
    }
  }, ms);
  t.unref();
  return {
    stop() {
      clearInterval(t);
      return Math.max(peak, rss(pid));
    },
  };
}

/** Polls `check` until it returns a truthy value, or throws after `ms` with `what`. */
export async function waitFor<T>(check: () => T | Promise<T>, ms: number, what: string): Promise<T> {
  const deadline = performance.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (performance.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * How far a second large transfer may peak above the first one's RSS peak. Garbage chunks live
 * off the JS heap until a GC that V8 paces by external memory (64 MiB steps) and the allocator's
 * level drifts up for a while: measured, Node 24 and Deno overshoot a warm peak by up to ~80 MiB
 * yet settle (20 × 256 MiB through Deno end where the second 256 MiB did), while Node 20 and Bun
 * stay within a few MiB. Either bound fails a worker that buffers a 256 MiB transfer or keeps a
 * third of it.
 */
export function transferSlack(runtime: string): number {
  return (runtime === "node24" || runtime === "deno" ? 96 : 32) * MiB;
}

/**
 * How much a first large transfer of `bytes` may grow a worker's RSS from idle. One that keeps
 * every body piece until its request ends peaks as high in a warm-up transfer as in the next, so
 * transferSlack() alone passes it; it grows by all of `bytes`. One that keeps nothing grows by its
 * garbage and the allocator's: 25-90 MiB for 256 MiB (Node 24 and Deno the most), up to about 150
 * MiB for 1 GiB from a cold start (docs/reliability.md, cold section).
 */
export function transferGrowth(bytes: number): number {
  return Math.max(bytes * 0.75, 160 * MiB);
}
