/** One change of the fleet as `fleet events` shows it. */
export interface FleetEvent {
  /** Increasing per agent, for `fleet events --after`. */
  seq: number;
  /** ISO 8601, when this agent saw it. */
  at: string;
  kind: 'config' | 'node' | 'deploy' | 'connection';
  /** The node it is about, if one. */
  node: string | null;
  /** The etcd revision of the change (null for this agent's own connection events). */
  revision: number | null;
  message: string;
}

export const EVENT_LOG_SIZE = 1000;

/** The last EVENT_LOG_SIZE events, and long-polls waiting for the next. */
export class EventLog {
  #events: FleetEvent[] = [];
  #seq = 0;
  readonly #waiters = new Set<() => void>();

  get last(): number {
    return this.#seq;
  }

  push(e: Omit<FleetEvent, 'seq' | 'at'>): void {
    this.#events.push({ seq: ++this.#seq, at: new Date().toISOString(), ...e });
    if (this.#events.length > EVENT_LOG_SIZE) this.#events.splice(0, this.#events.length - EVENT_LOG_SIZE);
    for (const w of this.#waiters) w();
  }

  after(seq: number): FleetEvent[] {
    return this.#events.filter((e) => e.seq > seq);
  }

  /** Events after `seq`; when there are none yet, waits up to `ms` for one. */
  async wait(seq: number, ms: number): Promise<FleetEvent[]> {
    if (this.#seq > seq || ms <= 0) return this.after(seq);
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#waiters.add(done);
    });
    return this.after(seq);
  }

  /** Answers every waiting poll now (agent stopping). */
  close(): void {
    for (const w of [...this.#waiters]) w();
  }
}
