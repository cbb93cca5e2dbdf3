// The front tests' failures carry their context where the test reporter prints it.

import assert from "node:assert/strict";
import { inspect } from "node:util";
import { test } from "node:test";
import { annotate } from "../lib/failure.ts";

/** A real assertion failure (its stack made at once, as in a test), annotated. */
function annotatedFailure(label: string, extra: string): unknown {
  try {
    assert.equal(1, 2);
  } catch (err) {
    return annotate(err, label, extra);
  }
  throw new Error("unreachable: the assertion passed");
}

test("annotate: the label and the logs reach the printed error (its stack), the message too", () => {
  const caught = annotatedFailure("nginx → bun", "--- worker log ---\nline one");
  const printed = inspect(caught);
  assert.match(printed, /\[nginx → bun\] Expected values to be strictly equal/);
  assert.match(printed, /--- worker log ---\nline one/);
  assert.match((caught as Error).message, /^\[nginx → bun\] [^]*line one$/);
});

test("annotate: logs holding $ patterns are kept as they are", () => {
  assert.match(inspect(annotatedFailure("x", "a log line with $& and $' in it")), /a log line with \$& and \$' in it/);
});

test("annotate: an error without a message, and a thrown non-error, are handled", () => {
  const e = annotate(new Error(), "", "the log") as Error;
  assert.match(inspect(e), /the log/);
  assert.equal(annotate("a string", "x", "y"), "a string");
});
