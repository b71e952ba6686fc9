import { distance } from 'fastest-levenshtein';
import { ProxyctlError } from '../errors.js';
import type { Counter, StatsScope } from '../stats/registry.js';

/**
 * The agent's live events: a small typed publisher every subsystem gets in its
 * SubsystemContext, and the subscriptions of control connections
 * (`events.subscribe`), which receive each event as a JSON-RPC notification
 *
 *   {"jsonrpc":"2.0","method":"event","params":{"topic":"deploy.phase","time":"…","seq":7,…payload}}
 *
 * An event is serialised once, whoever receives it. A topic nobody subscribed
 * to costs a Map lookup (`wants`), so a hot path can skip building a payload.
 * High-rate topics are throttled per key (latest value wins, at most one per
 * interval, the last one always delivered). A subscriber that does not read
 * costs a bounded amount of memory: see SocketSubscriber.
 */

export type InstanceExitAction = 'restart' | 'none' | 'gave_up';

/** Every topic and its payload (the event's params besides topic, time and seq). */
export interface EventPayloads {
  'download.state': { id: number; state: string; previous: string | null; url: string; dest: string; error: string | null };
  'download.progress': { id: number; bytes: number; total: number | null; rate: number };
  'deploy.phase': {
    service: string;
    deploy: number;
    kind: string;
    version: number;
    from_version: number | null;
    state: string;
    /** Of a rolling operation in batches of max_surge: "2/3"; null otherwise. */
    batch: string | null;
    result: 'running' | 'succeeded' | 'failed';
    error: string | null;
  };
  'proxy.switch': { from: number; to: number; reason: string; revision: number };
  'proxy.health': { proxy: string; healthy: boolean; error: string | null };
  'target.health': { app: string; target: string; health: 'up' | 'down'; error: string | null };
  'service.exit': {
    service: string;
    version: number;
    instance: number;
    pid: number | null;
    code: number | null;
    signal: string | null;
    error: string | null;
    action: InstanceExitAction;
    restarts: number;
    delay_ms: number | null;
  };
  'service.restart': { service: string; version: number; instance: number; pid: number | null; restarts: number };
  'service.scale': { service: string; from: number; to: number };
  'service.health': { service: string; health: 'ok' | 'degraded' | 'down'; reason: string | null };
  'service.log': { service: string; version: number; instance: number; stream: 'stdout' | 'stderr'; line: string; log_seq: number };
  'agent.reload': { config_path: string | null; ok: boolean; error: string | null };
}

export type Topic = keyof EventPayloads;

export interface TopicSpec {
  readonly summary: string;
  /** Payload fields, for the man page and `events topics`. */
  readonly fields: string;
  /** At most one event per key per this many ms (the latest wins). */
  readonly throttleMs?: number;
  readonly key?: (payload: never) => string | number;
  /** Publishing this topic delivers a pending throttled event of the same key first (a final state after its last progress). */
  readonly flushedBy?: Topic;
}

export const PROGRESS_THROTTLE_MS = 1000;

/** The topics, in documentation order. The man page's EVENTS section is generated from this table. */
export const TOPICS: { readonly [T in Topic]: TopicSpec } = {
  'download.state': { summary: 'a download job changed state (queued, active, verifying, done, paused, failed, cancelled)', fields: 'id, state, previous, url, dest, error' },
  'download.progress': {
    summary: `bytes of an active download, at most one per job every ${PROGRESS_THROTTLE_MS / 1000} s (the latest counts; the last one comes before the job's next download.state)`,
    fields: 'id, bytes, total, rate (bytes/s)',
    throttleMs: PROGRESS_THROTTLE_MS,
    key: (p: EventPayloads['download.progress']) => p.id,
    flushedBy: 'download.state',
  },
  'deploy.phase': {
    summary: 'a service operation (deploy, rollback, restart, start, stop, scale) entered a phase; the last one has result succeeded or failed',
    fields: 'service, deploy (id), kind, version, from_version, state (ROLLOUT_LAUNCH_NEW, ROLLOUT_WAIT, READY, SCALING, STOPPING, STOPPED, INITIAL), batch ("2/3" in batches of max_surge, else null), result (running, succeeded, failed), error',
  },
  'proxy.switch': { summary: 'the upstream proxy list switched its active group', fields: 'from, to (group indexes), reason, revision' },
  'proxy.health': { summary: 'an upstream proxy became healthy or unhealthy', fields: 'proxy, healthy, error' },
  'target.health': { summary: 'an app target went up or down (health checks, connect failures)', fields: 'app, target, health (up, down), error' },
  'service.exit': {
    summary: 'a service instance exited on its own (a crash, kill -9, an exit); action says what follows: restart (after delay_ms), none (restart policy), gave_up (max_restarts reached)',
    fields: 'service, version, instance, pid, code, signal, error, action, restarts, delay_ms',
  },
  'service.restart': { summary: 'a crashed instance was restarted and is ready (back in the app\'s targets)', fields: 'service, version, instance, pid, restarts' },
  'service.scale': { summary: 'a service\'s instance count changed (service scale, or instances in a reloaded config)', fields: 'service, from, to' },
  'service.health': { summary: 'a service\'s health changed (ok, degraded, down)', fields: 'service, health, reason' },
  'service.log': { summary: 'a line an instance wrote to stdout or stderr (not throttled; dropped like any event when the subscriber is slow)', fields: 'service, version, instance, stream, line, log_seq (the line\'s number in service logs)' },
  'agent.reload': { summary: 'the agent reloaded its config (agent reload, SIGHUP), or refused the new one', fields: 'config_path, ok, error' },
};

export const TOPIC_NAMES = Object.keys(TOPICS) as Topic[];

/** Throttled topics by the topic whose events flush them. */
const FLUSHED_BY = new Map<Topic, Topic[]>();
for (const t of TOPIC_NAMES) {
  const by = TOPICS[t].flushedBy;
  if (by) FLUSHED_BY.set(by, [...(FLUSHED_BY.get(by) ?? []), t]);
}

function keyOf(topic: Topic, payload: object): string | number {
  return (TOPICS[topic].key as (p: object) => string | number)(payload);
}

export interface BusEvent {
  readonly topic: Topic;
  /** ISO 8601. */
  readonly time: string;
  /** Per agent, from 1; a gap means events were dropped (see `lost`). */
  readonly seq: number;
  readonly [field: string]: unknown;
}

/** What a subsystem sees of the bus. */
export interface EventPublisher {
  publish<T extends Topic>(topic: T, payload: EventPayloads[T]): void;
  /** True when someone subscribed to the topic: a hot path checks this before building a payload. */
  wants(topic: Topic): boolean;
}

/** A publisher that drops everything (unit tests, tools). */
export const NO_EVENTS: EventPublisher = { publish: () => undefined, wants: () => false };

/** Receives each event of its topics as the notification line (newline included) and the event. */
export type Deliver = (line: string, event: BusEvent) => void;

interface Throttled {
  pending: object | null;
  timer: NodeJS.Timeout;
}

/**
 * Topic names or families (`service` = every `service.*` topic) → topics; an
 * empty list or none means every topic. Throws PXC_ERR_BAD_PARAMS naming an
 * unknown one.
 */
export function resolveTopics(names: readonly string[] | undefined): Set<Topic> {
  if (!names || names.length === 0) return new Set(TOPIC_NAMES);
  const out = new Set<Topic>();
  for (const raw of names) {
    const name = raw.endsWith('.*') ? raw.slice(0, -2) : raw;
    const matched = TOPIC_NAMES.filter((t) => t === name || t.startsWith(`${name}.`));
    if (matched.length === 0) {
      const families = [...new Set(TOPIC_NAMES.map((t) => t.split('.')[0]!))];
      const near = [...TOPIC_NAMES, ...families].map((t) => [t, distance(name, t)] as const).filter(([, d]) => d <= 2).sort((x, y) => x[1] - y[1])[0];
      const hint = near ? `did you mean ${near[0]}? ` : '';
      throw new ProxyctlError('PXC_ERR_BAD_PARAMS', `unknown event topic "${raw}" (${hint}topics: ${TOPIC_NAMES.join(', ')}; families: ${families.join(', ')})`);
    }
    for (const t of matched) out.add(t);
  }
  return out;
}

export class EventBus implements EventPublisher {
  readonly #subscribers = new Map<Topic, Set<Deliver>>();
  readonly #throttled = new Map<string, Throttled>();
  readonly #now: () => number;
  #seq = 0;
  readonly #published: Counter | undefined;
  /** Events not delivered to a subscriber that did not read (all subscribers together). */
  readonly dropped: Counter | undefined;
  #subscriptions = 0;
  #closed = false;

  constructor(opts: { stats?: StatsScope; now?: () => number } = {}) {
    this.#now = opts.now ?? Date.now;
    const s = opts.stats;
    this.#published = s?.counter('published', 'events published to at least one subscriber');
    this.dropped = s?.counter('dropped', 'events dropped for subscribers that did not read them in time (each got a "lost" notification)');
    s?.gauge('subscribers', 'event subscriptions open now', () => this.#subscriptions);
  }

  /** The last seq given out. */
  get seq(): number {
    return this.#seq;
  }

  wants(topic: Topic): boolean {
    return (this.#subscribers.get(topic)?.size ?? 0) > 0;
  }

  publish<T extends Topic>(topic: T, payload: EventPayloads[T]): void {
    if (this.#closed) return;
    const spec: TopicSpec = TOPICS[topic];
    if (spec.throttleMs !== undefined && spec.key) {
      if (!this.wants(topic)) return;
      this.#throttle(topic, spec, payload);
      return;
    }
    for (const t of FLUSHED_BY.get(topic) ?? []) this.#flush(t, keyOf(t, payload));
    if (this.wants(topic)) this.#emit(topic, payload);
  }

  /**
   * Calls `deliver` for every event of `topics` from now on; returns the
   * unsubscribe function. `deliver` must not throw.
   */
  subscribe(topics: Iterable<Topic>, deliver: Deliver): () => void {
    const mine = [...new Set(topics)];
    for (const t of mine) {
      let set = this.#subscribers.get(t);
      if (!set) this.#subscribers.set(t, (set = new Set()));
      set.add(deliver);
    }
    this.#subscriptions++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.#subscriptions--;
      for (const t of mine) this.#subscribers.get(t)?.delete(deliver);
    };
  }

  /** Drops pending throttled events and refuses new ones (agent shutdown, tests). */
  close(): void {
    this.#closed = true;
    for (const t of this.#throttled.values()) clearTimeout(t.timer);
    this.#throttled.clear();
  }

  #emit(topic: Topic, payload: object): void {
    const subs = this.#subscribers.get(topic);
    if (!subs || subs.size === 0) return;
    const event: BusEvent = { topic, time: new Date(this.#now()).toISOString(), seq: ++this.#seq, ...payload };
    const line = `{"jsonrpc":"2.0","method":"event","params":${JSON.stringify(event)}}\n`;
    this.#published?.inc();
    for (const deliver of subs) deliver(line, event);
  }

  /** Leading edge at once, then at most one per interval per key, the latest payload, the last one always. */
  #throttle(topic: Topic, spec: TopicSpec, payload: object): void {
    const id = `${topic}\0${keyOf(topic, payload)}`;
    const t = this.#throttled.get(id);
    if (t) {
      t.pending = payload;
      return;
    }
    this.#emit(topic, payload);
    this.#arm(id, topic, spec.throttleMs!);
  }

  #arm(id: string, topic: Topic, ms: number): void {
    const entry: Throttled = {
      pending: null,
      timer: setTimeout(() => {
        this.#throttled.delete(id);
        if (entry.pending) {
          this.#emit(topic, entry.pending);
          this.#arm(id, topic, ms);
        }
      }, ms),
    };
    entry.timer.unref();
    this.#throttled.set(id, entry);
  }

  #flush(topic: Topic, key: string | number): void {
    const id = `${topic}\0${key}`;
    const t = this.#throttled.get(id);
    if (!t) return;
    clearTimeout(t.timer);
    this.#throttled.delete(id);
    if (t.pending) this.#emit(topic, t.pending);
  }
}

/** A control connection's side of `events.subscribe` (CallContext.events). */
export interface EventSession {
  /** Sets the connection's topics (replacing earlier ones); the connection is then not closed for being idle. */
  subscribe(topics: Set<Topic>): void;
  unsubscribe(): void;
  readonly topics: Topic[];
}

/** What a SocketSubscriber writes to: a net.Socket, or a stand-in in tests. */
export interface EventOutput {
  readonly writableLength: number;
  /** False once the socket is ending or gone. */
  readonly writable: boolean;
  write(line: string): boolean;
}

/**
 * One connection's subscription, bounded: while more than `maxUnsent` bytes
 * wait in the socket (its client does not read), events are dropped and
 * counted, not buffered; once the socket drains (`drained()`), the client
 * first gets `{"jsonrpc":"2.0","method":"lost","params":{"dropped":N,"time":…,"last_seq":S}}`
 * and then events again. The agent's memory per slow subscriber stays
 * `maxUnsent` plus one line.
 */
export class SocketSubscriber {
  readonly #bus: EventBus;
  readonly #out: EventOutput;
  readonly #maxUnsent: number;
  #topics: Set<Topic> = new Set();
  #unsubscribe: (() => void) | null = null;
  #dropped = 0;
  #lastDropped = 0;

  constructor(bus: EventBus, out: EventOutput, maxUnsent: number) {
    this.#bus = bus;
    this.#out = out;
    this.#maxUnsent = maxUnsent;
  }

  get active(): boolean {
    return this.#unsubscribe !== null;
  }

  get topics(): Topic[] {
    return [...this.#topics];
  }

  /** Events lost to this subscriber since its last `lost` notification. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Sets the topics (replacing earlier ones). */
  subscribe(topics: Set<Topic>): void {
    this.#unsubscribe?.();
    this.#topics = topics;
    this.#unsubscribe = this.#bus.subscribe(topics, (line, event) => this.#deliver(line, event.seq));
  }

  unsubscribe(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = null;
    this.#topics = new Set();
  }

  /** The socket drained: tell the client what it lost, if anything. */
  drained(): void {
    if (this.#dropped > 0 && this.#room()) this.#sendLost();
  }

  #room(): boolean {
    return this.#out.writable && this.#out.writableLength <= this.#maxUnsent;
  }

  #deliver(line: string, seq: number): void {
    if (!this.#out.writable) return;
    if (!this.#room()) {
      this.#dropped++;
      this.#lastDropped = seq;
      this.#bus.dropped?.inc();
      return;
    }
    if (this.#dropped > 0) this.#sendLost();
    this.#out.write(line);
  }

  #sendLost(): void {
    const params = { dropped: this.#dropped, last_seq: this.#lastDropped, time: new Date().toISOString() };
    this.#dropped = 0;
    this.#out.write(`{"jsonrpc":"2.0","method":"lost","params":${JSON.stringify(params)}}\n`);
  }
}
