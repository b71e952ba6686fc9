import type { Logger } from 'pino';
import { describeEtcdError } from './etcd.js';

/**
 * Whether this agent reaches etcd, from every signal it gets (watch stream up
 * or down, lease keepalives, record writes), and since when. It starts
 * disconnected: until etcd answered once, the agent serves what it had.
 */
export class EtcdConnection {
  readonly #log: Logger;
  readonly #onChange: (connected: boolean) => void;
  #connected = false;
  #since = Date.now();
  #lastError: string | null = 'not connected yet';

  constructor(log: Logger, onChange: (connected: boolean) => void) {
    this.#log = log;
    this.#onChange = onChange;
  }

  get connected(): boolean {
    return this.#connected;
  }

  /** When the current state began (epoch ms). */
  get since(): number {
    return this.#since;
  }

  get lastError(): string | null {
    return this.#lastError;
  }

  ok(): void {
    if (this.#connected) return;
    const was = this.#since;
    this.#connected = true;
    this.#since = Date.now();
    this.#lastError = null;
    this.#log.info({ disconnected_ms: this.#since - was }, 'fleet: connected to etcd');
    this.#onChange(true);
  }

  failed(err: unknown): void {
    this.#lastError = describeEtcdError(err);
    if (!this.#connected) return;
    this.#connected = false;
    this.#since = Date.now();
    this.#log.warn({ err: this.#lastError }, 'fleet: etcd unreachable; serving the last applied fleet config');
    this.#onChange(false);
  }
}
