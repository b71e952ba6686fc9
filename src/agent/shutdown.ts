import type { Config } from '../config/schema.js';

/**
 * The agent's stop has a hard deadline: every subsystem gets its close(), in
 * order, until the deadline; one still closing then is logged and abandoned
 * (its abort() drops what it holds at once, e.g. SIGKILLs child processes),
 * and the next ones still get a short turn each so state is flushed where it
 * can be. The caller then releases the socket and the state-dir lock and the
 * process exits, whatever an abandoned subsystem still holds.
 */

/** Seconds on top of the configured waits (forward grace, service stop timeouts) for the rest of the stop. */
export const SHUTDOWN_MARGIN_S = 2;
/** What each step still gets once the deadline has passed (the steps after a hung one). */
export const HURRY_MS = 100;
/**
 * How much earlier than a caller's own timeout (`agent stop --timeout N`) the
 * subsystems' deadline is: room for the hurried turns after a hung one (at
 * most 4 × HURRY_MS), closing the socket and the exit, on a loaded box too.
 */
export const EXIT_MARGIN_MS = 1500;

/**
 * The agent's stop budget: app connections may finish for
 * `forward.shutdown_grace`, then the services' instances get SIGTERM and up to
 * their `stop_timeout` before SIGKILL, plus a margin for everything else.
 */
export function shutdownBudgetMs(config: Config): number {
  const stopTimeout = Math.max(0, ...config.services.map((s) => s.stop_timeout));
  return Math.round((config.forward.shutdown_grace + stopTimeout + SHUTDOWN_MARGIN_S) * 1000);
}

/**
 * The budget for one stop: the configured one, shortened when the caller
 * waits less (`agent stop --timeout N` asks the agent to be gone within N s).
 */
export function stopBudgetMs(config: Config, callerTimeoutS: number | undefined): number {
  const own = shutdownBudgetMs(config);
  if (callerTimeoutS === undefined) return own;
  return Math.max(0, Math.min(own, callerTimeoutS * 1000 - EXIT_MARGIN_MS));
}

export interface ShutdownStep {
  readonly name: string;
  close(): Promise<void> | void;
  /** Called once close() has overrun the deadline: let go of everything now. */
  abort?(): void;
}

export interface ShutdownLog {
  error(obj: object, msg: string): void;
}

export interface StepOutcome {
  name: string;
  result: 'closed' | 'failed' | 'abandoned';
  ms: number;
}

const TIMED_OUT = Symbol('timed out');

/** Closes the steps one after the other within `deadline` (epoch ms); never throws. */
export async function closeInOrder(steps: readonly ShutdownStep[], deadline: number, log: ShutdownLog, hurryMs = HURRY_MS): Promise<StepOutcome[]> {
  const outcomes: StepOutcome[] = [];
  for (const step of steps) {
    const started = Date.now();
    const budget = Math.max(deadline - started, hurryMs);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<typeof TIMED_OUT>((resolve) => (timer = setTimeout(() => resolve(TIMED_OUT), budget)));
    let result: StepOutcome['result'];
    try {
      const r = await Promise.race([Promise.resolve().then(() => step.close()), timeout]);
      result = r === TIMED_OUT ? 'abandoned' : 'closed';
    } catch (err) {
      result = 'failed';
      log.error({ err, subsystem: step.name }, `${step.name} failed to close`);
    } finally {
      clearTimeout(timer);
    }
    if (result === 'abandoned') {
      log.error({ subsystem: step.name, waited_ms: budget }, `${step.name} did not close within ${budget} ms; abandoned`);
      try {
        step.abort?.();
      } catch (err) {
        log.error({ err, subsystem: step.name }, `${step.name} failed to abort`);
      }
    }
    outcomes.push({ name: step.name, result, ms: Date.now() - started });
  }
  return outcomes;
}
