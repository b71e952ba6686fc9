import type { ServiceConfig } from '../config/schema.js';

/**
 * When a crashed instance comes back: pm2's exponential backoff
 * (restart_delay doubled for each restart in a row, capped), its
 * max_restarts, and systemd's Restart=on-failure reading of "crashed".
 */

/** Longest wait between restarts (pm2's exp_backoff_restart_delay cap), unless restart_delay is longer. */
export const RESTART_DELAY_CAP_MS = 15_000;
/** An instance ready this long ran fine: its next crash starts the count of restarts in a row again. */
export const STABLE_AFTER_MS = 30_000;

export interface ExitLike {
  code: number | null;
  signal: string | null;
  error: string | null;
}

export type RestartDecision = { restart: true; delayMs: number; streak: number } | { restart: false; why: 'policy' | 'gave_up'; streak: number };

/** Whether the restart policy restarts after this exit at all. */
export function policyRestarts(policy: ServiceConfig['restart'], exit: ExitLike): boolean {
  if (policy === 'never') return false;
  if (policy === 'always') return true;
  return !(exit.code === 0 && exit.signal === null && exit.error === null);
}

/** The wait before restart number `streak` (1-based) in a row. */
export function restartDelayMs(restartDelayS: number, streak: number): number {
  const base = restartDelayS * 1000;
  const cap = Math.max(RESTART_DELAY_CAP_MS, base);
  return Math.min(cap, base * 2 ** Math.max(0, streak - 1));
}

/**
 * What follows an instance's own exit, given the restarts in a row so far
 * (`streak`) and how long it was ready (null: it never got ready).
 */
export function decideRestart(cfg: Pick<ServiceConfig, 'restart' | 'max_restarts' | 'restart_delay'>, exit: ExitLike, streak: number, readyMs: number | null): RestartDecision {
  const run = readyMs !== null && readyMs >= STABLE_AFTER_MS ? 0 : streak;
  if (!policyRestarts(cfg.restart, exit)) return { restart: false, why: 'policy', streak: run };
  if (run >= cfg.max_restarts) return { restart: false, why: 'gave_up', streak: run };
  return { restart: true, delayMs: restartDelayMs(cfg.restart_delay, run + 1), streak: run + 1 };
}
