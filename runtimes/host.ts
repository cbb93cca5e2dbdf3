// The process-level calls the CLI makes, with each runtime's cheapest. Deno gets its own: touching
// Deno's `process` costs idle RSS and a process.on(signal) listener more again, while
// Deno.args, Deno.env and Deno.addSignalListener cost nothing (bench/RESULTS.md, idle table).

export type Signal = "SIGTERM" | "SIGINT" | "SIGQUIT";

export interface Host {
  /** Command-line arguments after the script's own path. */
  readonly args: string[];
  cwd(): string;
  /** An environment variable; throws where the runtime may not read it (Deno without --allow-env). */
  env(name: string): string | undefined;
  exit(code: number): never;
  onSignal(signal: Signal, listener: () => void): void;
  /** `listener` runs when nothing is left to run (no socket, timer or pending I/O) and the process would end by itself. */
  onIdle(listener: () => void): void;
}

interface DenoHost {
  args: string[];
  cwd(): string;
  env: { get(name: string): string | undefined };
  exit(code: number): never;
  addSignalListener(signal: Signal, listener: () => void): void;
}
interface DenoGlobalThis {
  Deno?: DenoHost;
  addEventListener(type: "beforeunload", listener: () => void): void;
}

const g = globalThis as unknown as DenoGlobalThis;
const deno = g.Deno;

export const host: Host = deno
  ? {
    args: deno.args,
    cwd: () => deno.cwd(),
    env: (name) => deno.env.get(name),
    exit: (code) => deno.exit(code),
    onSignal: (signal, listener) => deno.addSignalListener(signal, listener),
    onIdle: (listener) => g.addEventListener("beforeunload", listener), // Deno's beforeExit
  }
  : {
    args: process.argv.slice(2),
    cwd: () => process.cwd(),
    env: (name) => process.env[name],
    exit: (code) => process.exit(code),
    onSignal: (signal, listener) => void process.on(signal, listener),
    onIdle: (listener) => void process.on("beforeExit", listener),
  };
