// Writes one generated section of a results document (docs/reliability.md) between its markers,
// `<!-- NAME:start -->` and `<!-- NAME:end -->`, leaving the rest of the file as it is. Each kind
// of result (fuzz, faults, soak, limits…) owns one NAME, so their generators never clash.

import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

export const RELIABILITY_DOC: string = path.resolve(import.meta.dirname, "../../docs/reliability.md");

const HEAD = `# Reliability

What fetchcgi was put through and what it held, per runtime. Each section between \`<!-- NAME:start -->\`
and \`<!-- NAME:end -->\` markers is written by a script (named in the section); edit around them, not inside.
`;

/** Replaces section `name` of `file` with `body` (appended at the end if the file has no such section yet). */
export function writeSection(name: string, body: string, file: string = RELIABILITY_DOC): void {
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  const block = `${start}\n${body.trim()}\n${end}`;
  const text = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : HEAD;
  const i = text.indexOf(start);
  const j = text.indexOf(end);
  let out: string;
  if (i >= 0 && j > i) out = text.slice(0, i) + block + text.slice(j + end.length);
  else if (i >= 0 || j >= 0) throw new Error(`${file}: the ${name} markers are not a start/end pair`);
  else out = `${text.trimEnd()}\n\n${block}\n`;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, out);
}

/**
 * The commit being measured: HEAD's short hash, "(with local changes)" when tracked files differ
 * from it. Read it when a run starts, so that a section names the code that produced its figures.
 */
export function measuredCommit(): string {
  const git = (...args: string[]) =>
    execFileSync("git", args, { cwd: path.dirname(RELIABILITY_DOC), encoding: "utf8" }).trim();
  try {
    return git("rev-parse", "--short", "HEAD") +
      (git("status", "--porcelain", "--untracked-files=no") ? " (with local changes)" : "");
  } catch {
    return "unknown";
  }
}
