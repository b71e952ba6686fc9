import { AsyncLocalStorage } from 'node:async_hooks';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Config, flush, handle, run } from '@oclif/core';
import { ROOT, type CliResult } from './agent.js';

/**
 * The built CLI (dist/commands, through oclif's `run`) in the test's own
 * process: what `node bin/run.js ARGS` prints and exits with, without a node
 * start per run (~0.3 s of CPU, seconds on a loaded box). Use it where the
 * output and exit code are under test, not the process: runCli (helpers/agent.ts)
 * stays the path for signals, stdin, TTYs, and runs that overlap another run.
 *
 * Runs are serialised (process.exitCode is one per process), and each run's
 * stdout and stderr writes are captured through an AsyncLocalStorage, so the
 * agent in the same process (in-process-agent.ts) and vitest keep theirs.
 * During a run stdout is not a TTY and NO_COLOR is set, as runCli has them; the
 * environment, argv and exit code are the test process's again after it.
 */

interface Capture {
  stdout: string;
  stderr: string;
  /** The code oclif's error handler would exit with. */
  exit: number | undefined;
}

const capture = new AsyncLocalStorage<Capture>();
let installed = false;

function install(): void {
  if (installed) return;
  installed = true;
  for (const [stream, key] of [[process.stdout, 'stdout'], [process.stderr, 'stderr']] as const) {
    const write = stream.write.bind(stream) as (...a: unknown[]) => boolean;
    stream.write = ((chunk: string | Uint8Array, enc?: unknown, cb?: unknown) => {
      const c = capture.getStore();
      if (!c) return write(chunk, enc, cb);
      c[key] += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
      const done = typeof enc === 'function' ? enc : cb;
      if (typeof done === 'function') process.nextTick(done as () => void);
      return true;
    }) as typeof stream.write;
  }
  // oclif's handler ends the process with the error's exit code: here it records it.
  const handleModule = createRequire(import.meta.url)('@oclif/core/handle') as { Exit: { exit(code?: number): void } };
  const exit = handleModule.Exit.exit.bind(handleModule.Exit);
  handleModule.Exit.exit = (code = 0) => {
    const c = capture.getStore();
    if (c) c.exit = code;
    else exit(code);
  };
}

let config: Promise<Config> | undefined;
let hoist: Promise<(argv: readonly string[]) => string[]> | undefined;
let queue: Promise<unknown> = Promise.resolve();

export interface InProcessCliOptions {
  /** PROXYCTL_SOCKET for the run. */
  socket?: string;
  env?: NodeJS.ProcessEnv;
}

/** `proxyctl ARGS` in this process; resolves as runCli does, with the code the process would exit with. */
export function cliInProcess(args: readonly string[], opts: InProcessCliOptions = {}): Promise<CliResult> {
  const result = queue.then(() => runOne(args, opts));
  queue = result.catch(() => undefined);
  return result;
}

async function runOne(args: readonly string[], opts: InProcessCliOptions): Promise<CliResult> {
  install();
  config ??= Config.load(ROOT);
  hoist ??= import(pathToFileURL(join(ROOT, 'dist/src/cli/argv.js')).href).then((m: { hoistGlobalFlags: (argv: readonly string[]) => string[] }) => m.hoistGlobalFlags);
  const [cfg, hoistGlobalFlags] = await Promise.all([config, hoist]);
  const argv = args[0]?.startsWith('--s') ? hoistGlobalFlags(args) : [...args];
  const env: NodeJS.ProcessEnv = { NO_COLOR: '1', PROXYCTL_SOCKET: opts.socket, ...opts.env };
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  const setEnv = (values: NodeJS.ProcessEnv) => {
    for (const [k, v] of Object.entries(values)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
  const tty = Object.getOwnPropertyDescriptor(process.stdout, 'isTTY');
  const exitCode = process.exitCode;
  // oclif's error handler shows help for process.argv.
  const processArgv = process.argv;
  process.argv = [process.execPath, join(ROOT, 'bin', 'run.js'), ...argv];
  const c: Capture = { stdout: '', stderr: '', exit: undefined };
  setEnv(env);
  Object.defineProperty(process.stdout, 'isTTY', { value: false, configurable: true, writable: true });
  process.exitCode = undefined;
  try {
    await capture.run(c, async () => {
      try {
        await run(argv, cfg);
        await flush();
      } catch (err) {
        // Showing help for a flag error drops that command from the loaded config (oclif 4): load it again next run.
        config = undefined;
        await handle(err as Error);
      }
    });
    return { code: c.exit ?? Number(process.exitCode ?? 0), stdout: c.stdout, stderr: c.stderr };
  } finally {
    process.exitCode = exitCode;
    process.argv = processArgv;
    if (tty) Object.defineProperty(process.stdout, 'isTTY', tty);
    else delete (process.stdout as { isTTY?: boolean }).isTTY;
    setEnv(saved);
  }
}
