// Puts context (which front, which runtime, the logs) into a failing test's error. The reporter
// prints the error's stack, made when the error was, so a message changed later must go there too.

/** Returns `err` with `label` before its message and `extra` after it, in the message and the stack. */
export function annotate(err: unknown, label: string, extra: string): unknown {
  if (!(err instanceof Error)) return err;
  const said = err.message;
  err.message = `${label ? `[${label}] ` : ""}${said}\n${extra}`;
  // A replacer function: the logs may hold "$&" and the like, which a replacement string would expand.
  if (err.stack) {
    err.stack = said && err.stack.includes(said)
      ? err.stack.replace(said, () => err.message)
      : `${err.message}\n${err.stack}`;
  }
  return err;
}
