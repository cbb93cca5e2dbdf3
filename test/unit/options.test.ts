// core/options.ts is the one table of options: README's option table, the option types
// (WorkerOptions, ServeOptions) and the validation must all agree with it.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { integerOption, type OptionName, OPTIONS } from "../../core/options.ts";
import type { ServeOptions } from "../../core/types.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
const read = (file: string): string => fs.readFileSync(path.join(ROOT, file), "utf8");

// A ServeOptions key missing from the table fails the type check (tsc -p tsconfig.test.json).
const everyKeyInTable: [Exclude<keyof ServeOptions, OptionName | "log">] extends [never] ? true : false = true;
void everyKeyInTable;

/** README's CLI option table: each row's flags (`--listen ADDR` → ["--listen ADDR"]) and default cell. */
function readmeRows(): { flags: string[]; default: string }[] {
  const readme = read("README.md");
  const start = readme.indexOf("| option | default | |\n|---|---|---|\n");
  assert.ok(start >= 0, "README has the option table");
  const rows = [];
  for (const line of readme.slice(start).split("\n").slice(2)) {
    if (!line.startsWith("|")) break;
    const [, flagCell, defaultCell] = line.split("|"); // the meaning, after them, may hold a "|"
    rows.push({
      flags: [...flagCell.matchAll(/`([^`]+)`/g)].map((m) => m[1]),
      default: defaultCell.replaceAll("`", "").trim(),
    });
  }
  return rows;
}

/** The rows the table says README must have, in its order: a value's flag, or both forms of a switch. */
function expectedRows(): { flag: string; default: string }[] {
  const rows = [];
  for (const spec of Object.values(OPTIONS)) {
    if (spec.kind === "boolean") {
      rows.push({ flag: spec.flag, default: spec.cliDefault ?? spec.default ? "on" : "off" });
      rows.push({ flag: `--no-${spec.flag.slice(2)}`, default: "" });
    } else {
      rows.push({ flag: `${spec.flag} ${spec.arg}`, default: String(spec.shown ?? spec.default) });
    }
  }
  return rows;
}

test("README's option table has a row for each option and flag form, in the table's order, and no other", () => {
  const options = readmeRows().filter((row) => !row.flags.includes("--help"));
  assert.deepEqual(options.map((row) => row.flags.join(", ")), expectedRows().map((row) => row.flag));
});

test("README's default column says each option's default (it may say more after it)", () => {
  const byFlag = new Map(readmeRows().map((row) => [row.flags[0], row.default]));
  for (const { flag, default: expected } of expectedRows()) {
    const cell = byFlag.get(flag)!;
    assert.ok(
      cell === expected || cell.startsWith(`${expected} `),
      `${flag}: README says ${JSON.stringify(cell)}, the table ${JSON.stringify(expected)}`,
    );
  }
});

/** The keys an interface declares in a source file. */
function interfaceKeys(file: string, name: string): string[] {
  const source = read(file);
  const start = source.indexOf(`export interface ${name} `);
  assert.ok(start >= 0, `${file} declares ${name}`);
  const body = source.slice(start, source.indexOf("\n}", start));
  return [...body.matchAll(/^ {2}(\w+)\?:/gm)].map((m) => m[1]);
}

test("every key of WorkerOptions and ServeOptions is in the table, and every table option is one of them", () => {
  const keys = [...interfaceKeys("core/types.ts", "WorkerOptions"), ...interfaceKeys("core/types.ts", "ServeOptions")]
    .filter((k) => k !== "log");
  assert.deepEqual(keys.toSorted(), Object.keys(OPTIONS).toSorted());
  for (const [name, spec] of Object.entries(OPTIONS)) {
    assert.equal(
      spec.applies === "listen",
      interfaceKeys("core/types.ts", "ServeOptions").includes(name),
      `${name} applies where it is declared`,
    );
  }
});

test("every option has a meaning, an integer one its bounds and default, a switch its --no- meaning", () => {
  for (const [name, spec] of Object.entries(OPTIONS)) {
    assert.ok(spec.meaning && spec.flag.startsWith("--"), name);
    if (spec.kind === "boolean") {
      assert.ok(spec.off && typeof spec.default === "boolean" && spec.arg === undefined, name);
    } else assert.ok(spec.arg, `${name} has a placeholder`);
    if (spec.kind === "count" || spec.kind === "bytes" || spec.kind === "ms") {
      assert.ok(Number.isInteger(spec.min) && integerOption({}, name as OptionName) === spec.default, name);
    }
  }
});

test("integerOption applies the default and refuses what is out of bounds, naming the option", () => {
  assert.equal(integerOption({}, "maxConns"), 1024);
  assert.equal(integerOption({ maxConns: 5 }, "maxConns"), 5);
  assert.equal(integerOption({ idleTimeout: 0 }, "idleTimeout"), 0);
  assert.throws(
    () => integerOption({ maxConns: 0 }, "maxConns"),
    /^TypeError: fetchcgi: option maxConns must be an integer >= 1, got 0$/,
  );
  assert.throws(() => integerOption({ maxParamLength: 255 }, "maxParamLength"), /must be an integer >= 256, got 255/);
  assert.throws(
    () => integerOption({ readTimeout: 1.5 }, "readTimeout"),
    /readTimeout must be an integer >= 0, got 1.5/,
  );
  assert.throws(() => integerOption({ maxRequests: "8" }, "maxRequests"), /got "8"/);
  assert.throws(
    () => integerOption({ backlog: 2 ** 31 }, "backlog"),
    /option backlog must be an integer from 1 to 2147483647, got 2147483648/,
  );
});

test("--help lists every flag form from the table, with its placeholder and default, inside the prose", () => {
  const help = execFileSync(process.execPath, [path.join(ROOT, "cli.ts"), "--help"], { encoding: "utf8" });
  for (const { flag, default: shown } of expectedRows()) {
    const entry = help.split(/\n(?=  -)/).find((e) => e.startsWith(`  ${flag}  `));
    assert.ok(entry, `${flag} in --help`);
    const text = entry.replace(/\s+/g, " ");
    if (shown === "on") assert.ok(text.includes("the default: "), flag);
    else if (shown && shown !== "off") assert.ok(text.includes(`(default: ${shown})`), `${flag}: ${text}`);
  }
  for (
    const prose of [
      "Usage: fetchcgi APP [options]",
      "ADDR is one of:",
      "fd:N",
      "Signals: SIGTERM",
      "Exit status 1",
      "not under npx or npm exec",
    ]
  ) {
    assert.ok(help.includes(prose), prose);
  }
});
