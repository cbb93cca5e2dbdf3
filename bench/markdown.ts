// Markdown for the bench's reports.

/** A Markdown table; numbers (every column but the first) right-aligned unless `left`. */
export function table(head: string[], rows: string[][], left = false): string {
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(head), line(head.map((_, i) => (i === 0 || left ? "---" : "---:"))), ...rows.map(line)].join("\n");
}
