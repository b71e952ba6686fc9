import { connect } from 'node:net';

/** What one TCP connect came to. */
export interface TcpProbe {
  /** Accepted within the deadline. */
  readonly ok: boolean;
  /** No answer before the deadline (neither accepted nor refused). */
  readonly timedOut: boolean;
  /** The signal aborted the attempt first. */
  readonly aborted: boolean;
  /** The connect's error (ECONNREFUSED, EHOSTUNREACH, …), if it failed with one. */
  readonly error: NodeJS.ErrnoException | null;
  /** From the call to the outcome, rounded to the millisecond. */
  readonly durationMs: number;
}

/**
 * The one TCP probe: a connect to `host:port` that counts as a success once
 * accepted, and is closed at once. Never rejects; the caller words the
 * outcome (the proxy health checker, app target checks, services' `tcp`
 * readiness). The deadline is absolute: a connect that neither succeeds nor
 * fails in `timeoutMs` is `timedOut`.
 */
export function probeTcp(host: string, port: number, timeoutMs: number, signal?: AbortSignal): Promise<TcpProbe> {
  const started = performance.now();
  return new Promise((resolve) => {
    const outcome = (o: Omit<TcpProbe, 'durationMs'>): TcpProbe => ({ ...o, durationMs: Math.round(performance.now() - started) });
    if (signal?.aborted) return resolve(outcome({ ok: false, timedOut: false, aborted: true, error: null }));
    const socket = connect({ host, port });
    const finish = (o: Omit<TcpProbe, 'durationMs'>): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve(outcome(o));
    };
    const onAbort = (): void => finish({ ok: false, timedOut: false, aborted: true, error: null });
    const timer = setTimeout(() => finish({ ok: false, timedOut: true, aborted: false, error: null }), timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => finish({ ok: true, timedOut: false, aborted: false, error: null }));
    socket.once('error', (error: NodeJS.ErrnoException) => finish({ ok: false, timedOut: false, aborted: false, error }));
  });
}
