import { probeTcp } from '../net/tcp-probe.js';
import type { CheckResult, Target } from './target.js';

export interface HealthSettings {
  interval: number;
  timeout: number;
  rise: number;
  fall: number;
}

/** Told every check's result; what it means for the target's health is the app's decision (App#checked). */
export type CheckListener = (target: Target, result: CheckResult) => void;

/**
 * Active TCP health checks of one app's targets: a connect every `interval`
 * seconds, the first one `interval` after the target was added. A target's
 * next check is scheduled only when its previous one finished, so checks
 * never overlap. Disabled targets are not checked.
 */
export class TargetHealthChecker {
  #settings: HealthSettings;
  readonly #onResult: CheckListener;
  readonly #timers = new Map<Target, NodeJS.Timeout>();
  #closed = false;

  constructor(settings: HealthSettings, onResult: CheckListener) {
    this.#settings = settings;
    this.#onResult = onResult;
  }

  /** New settings apply from each target's next check. */
  update(settings: HealthSettings): void {
    this.#settings = settings;
  }

  add(target: Target): void {
    if (this.#closed || this.#timers.has(target)) return;
    this.#schedule(target);
  }

  remove(target: Target): void {
    const t = this.#timers.get(target);
    if (t) clearTimeout(t);
    this.#timers.delete(target);
  }

  close(): void {
    this.#closed = true;
    for (const t of this.#timers.values()) clearTimeout(t);
    this.#timers.clear();
  }

  #schedule(target: Target): void {
    const timer = setTimeout(() => this.#check(target), this.#settings.interval * 1000);
    timer.unref();
    this.#timers.set(target, timer);
  }

  #check(target: Target): void {
    if (!this.#timers.has(target)) return;
    if (target.state === 'disabled') {
      this.#schedule(target);
      return;
    }
    const { timeout } = this.#settings;
    void probeTcp(target.host, target.port, timeout * 1000).then((r) => {
      if (!this.#timers.has(target)) return; // removed while the check ran
      const error = r.ok ? null : r.timedOut ? `health check timed out after ${timeout} s` : `health check: ${r.error?.code ?? r.error?.message}`;
      this.#onResult(target, { ok: r.ok, timedOut: r.timedOut, error, durationMs: r.durationMs });
      this.#schedule(target);
    });
  }
}
