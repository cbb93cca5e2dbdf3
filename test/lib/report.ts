// Writes one generated section of a results document (docs/reliability.md) between its markers,
// `<!-- NAME:start -->` and `<!-- NAME:end -->`, leaving the rest of the file as it is. Each kind
// of result (fuzz, faults, soak, limits…) owns one NAME, so their generators never clash.

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
