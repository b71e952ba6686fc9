import type { Blame, FailureDecision, FailureEvidence, ProxyAttempt, ProxyJob, ProxyRouter } from './api.js';
import { classifyFailure, type Classification } from './classify.js';
import type { DispatcherPool } from './dispatchers.js';
import { defaultPolicy, type PolicyJob, type SelectionPolicy } from './policies.js';
import type { Proxy, ProxyList } from './proxy-list.js';

/**
 * The per-request side of the proxy list (cvmfs's SetUrlOptions + VerifyAndFinalize)
 * and the whole failure policy of a fetch:
 *
 * - attempt(): each job carries a Plan (the list revision it was made at, the group,
 *   the policy's member order and position); a plan from an older revision is re-made
 *   at the next request, the members the job already failed through stay excluded.
 *   Connection `lane` k of a job starts k members further along the order when the
 *   policy spreads (default), at the same member otherwise (sharding: cache locality).
 * - reportFailure(): classifies the evidence (classify.ts), updates proxy health and
 *   the active group, and decides: retry now (another proxy), retry after the backoff,
 *   skip the source (a mirror that fails is not retried while others remain), or fail.
 *   One backoff for every kind: backoff_init doubling up to backoff_max, counted per
 *   source over failed attempts in a row without progress; an attempt that delivered
 *   bytes resets the count. Attempts that were already in flight when a failure was
 *   counted (other lanes of the same job) do not count again.
 * - The same URL failing with ambiguous evidence (a bare 502/503/504, a refused
 *   CONNECT, a broken connection after the proxy took the request) through every
 *   member of a group of two or more is the host's fault, not the group's: the marks
 *   it left are undone, a switch it caused is reverted, and the host is retried.
 */

export interface RouterSettings {
  timeoutMs: number;
  timeoutDirectMs: number;
  lowSpeedLimit: number;
  backoffInitMs: number;
  backoffMaxMs: number;
  /** Slow transfers in a row after which the source is given up. */
  slowRetries: number;
  resetAfterMs: number;
  /**
   * Without a health checker nobody probes group 0 again, so after reset_after the
   * router returns to it optimistically (its failure marks cleared), as cvmfs does.
   */
  optimisticReset: boolean;
}

export interface RouterLogger {
  warn(msg: string): void;
  info?(msg: string): void;
}

/** Per-source failure counts of one job. */
interface SourceState {
  /** Failed attempts in a row without progress (host failures, rounds of the proxy list). */
  failures: number;
  /** Slow transfers in a row. */
  slow: number;
  /** Moves at every counted failure; an attempt started at an older epoch does not count again. */
  epoch: number;
}

/** Router-owned state kept on `job.plan`. */
export class Plan {
  /** Addresses this job failed through (across re-plans, until a full round of the list failed). */
  readonly failed = new Set<string>();
  readonly sources = new Map<string, SourceState>();
  order: number[] = [];
  index = 0;
  data: unknown = null;

  constructor(
    public revision: number,
    public group: number,
  ) {}

  source(url: string): SourceState {
    let s = this.sources.get(url);
    if (!s) {
      s = { failures: 0, slow: 0, epoch: 0 };
      this.sources.set(url, s);
    }
    return s;
  }
}

/** The attempt object the router hands out, with what it needs back. */
class RouterAttempt implements ProxyAttempt {
  constructor(
    readonly url: string,
    readonly member: Proxy,
    readonly dispatcher: ProxyAttempt['dispatcher'],
    readonly timeoutMs: number,
    readonly lowSpeedLimit: number,
    readonly lowSpeedTimeMs: number,
    readonly epoch: number,
    readonly lane: number,
  ) {}

  get proxy(): string | null {
    return this.member.url;
  }
}

/** Ambiguous failures of one URL, by member, while it is unclear whom to blame. */
interface Suspicion {
  readonly group: number;
  readonly members: Set<string>;
  /** Members this URL's failures marked unhealthy. */
  readonly marked: Set<Proxy>;
  /** Set when those marks switched the list away from `group`. */
  switchedAway: boolean;
}

const MAX_SUSPICIONS = 1024;

export class UpstreamRouter implements ProxyRouter {
  readonly #list: ProxyList;
  readonly #pool: DispatcherPool;
  #settings: RouterSettings;
  #policy: SelectionPolicy;
  readonly #log: RouterLogger | undefined;
  readonly #fallbackPolicy = defaultPolicy();
  readonly #suspicions = new Map<string, Suspicion>();

  constructor(list: ProxyList, pool: DispatcherPool, settings: RouterSettings, policy: SelectionPolicy, log?: RouterLogger) {
    this.#list = list;
    this.#pool = pool;
    this.#settings = settings;
    this.#policy = policy;
    this.#log = log;
  }

  get policy(): SelectionPolicy {
    return this.#policy;
  }
  set policy(p: SelectionPolicy) {
    this.#policy = p;
  }
  set settings(s: RouterSettings) {
    this.#settings = s;
  }

  /** The backoff before retry `n` (1-based): backoff_init doubling up to backoff_max. */
  backoffMs(n: number): number {
    const s = this.#settings;
    return Math.min(s.backoffInitMs * 2 ** Math.max(0, n - 1), s.backoffMaxMs);
  }

  attempt(job: ProxyJob, url: string, lane: number): ProxyAttempt {
    this.#maybeReset();
    const plan = this.#planOf(job);
    const proxy = this.#pick(plan, lane);
    proxy.metrics.requests.inc();
    if (plan.group === this.#list.activeGroupIndex) this.#list.noteUsed(proxy);
    const s = this.#settings;
    const timeoutMs = proxy.isDirect ? s.timeoutDirectMs : s.timeoutMs;
    const dispatcher = this.#pool.fetch(proxy.address, job.caFile);
    return new RouterAttempt(url, proxy, dispatcher, timeoutMs, s.lowSpeedLimit, Math.max(1000, timeoutMs), plan.source(url).epoch, lane);
  }

  reportSuccess(job: ProxyJob, attempt: ProxyAttempt): void {
    if (!(attempt instanceof RouterAttempt)) return;
    const plan = job.plan instanceof Plan ? job.plan : null;
    const src = plan?.source(attempt.url);
    if (src) {
      src.failures = 0;
      src.slow = 0;
    }
    this.#suspicions.delete(attempt.url);
    // A request that went through proves the proxy works, whatever the last probe said.
    if (!attempt.member.isDirect) this.#list.setHealth(attempt.member, true);
  }

  reportFailure(job: ProxyJob, attempt: ProxyAttempt, evidence: FailureEvidence): FailureDecision {
    if (!(attempt instanceof RouterAttempt)) throw new TypeError('reportFailure: not an attempt of this router');
    const plan = this.#planOf(job);
    const member = attempt.member;
    let c = classifyFailure(evidence, !member.isDirect);
    member.lastError = `${c.blame}: ${c.what}`;
    const src = plan.source(attempt.url);
    if (evidence.bytes > 0) src.failures = 0;

    if (c.blame === 'proxy' && c.ambiguous) c = this.#judgeAmbiguous(plan, attempt, c);
    switch (c.blame) {
      case 'tls':
        member.metrics.failuresHost.inc();
        return this.#giveUpSource(job, 'tls', `TLS certificate of ${hostOf(attempt.url)} not trusted: ${c.what}; if it is signed by a private CA, trust it with --ca-file PATH (or downloads.ca_file)`);
      case 'slow':
        return this.#slow(job, attempt, src);
      case 'proxy':
        return this.#proxyFailure(job, plan, attempt, src, c, evidence.bytes > 0);
      default:
        member.metrics.failuresHost.inc();
        // The proxy answered about the origin: a verdict on it (unknown → healthy), though not one that lifts a failure mark.
        if (!member.isDirect && member.healthy) member.checked = true;
        return this.#hostFailure(job, attempt, src, c, evidence);
    }
  }

  // ---- failures ----------------------------------------------------------

  #slow(job: ProxyJob, attempt: RouterAttempt, src: SourceState): FailureDecision {
    attempt.member.metrics.slow.inc();
    src.slow++;
    const s = this.#settings;
    const via = viaOf(attempt);
    if (src.slow > s.slowRetries) return this.#giveUpSource(job, 'slow', `transfer from ${hostOf(attempt.url)} via ${via} under ${s.lowSpeedLimit} B/s ${src.slow} times in a row`);
    const delayMs = this.backoffMs(src.slow);
    return { action: 'retry', delayMs, blame: 'slow', reason: `slow transfer via ${via} (under ${s.lowSpeedLimit} B/s), retry ${src.slow}/${s.slowRetries} in ${delayMs} ms` };
  }

  #proxyFailure(job: ProxyJob, plan: Plan, attempt: RouterAttempt, src: SourceState, c: Classification, progressed: boolean): FailureDecision {
    const proxy = attempt.member;
    const via = viaOf(attempt);
    if (!plan.failed.has(proxy.address)) {
      // The member is failed for this job and unhealthy for everyone until a probe or a success says otherwise.
      proxy.metrics.failuresProxy.inc();
      plan.failed.add(proxy.address);
      const group = this.#list.activeGroupIndex;
      const revision = this.#list.revision;
      if (!proxy.isDirect && this.#list.setHealth(proxy, false)) this.#suspicions.get(attempt.url)?.marked.add(proxy);
      this.#list.failoverIfNeeded(`${via}: ${c.what} while fetching ${attempt.url}`);
      const sus = this.#suspicions.get(attempt.url);
      if (sus && sus.group === group && this.#list.activeGroupIndex !== group) sus.switchedAway = true;
      if (this.#list.revision === revision) this.#policyFailure(job, plan, c.what);
    }
    // The member the next attempt would get (after a switch, in the new group): one the job has not failed through?
    const current = this.#planOf(job);
    const next = this.#pick(current, attempt.lane);
    if (!current.failed.has(next.address)) return { action: 'retry', delayMs: 0, blame: 'proxy', reason: `proxy error via ${via}: ${c.what}; trying the next proxy` };

    // Every proxy within reach failed for this job: a new round after the backoff, as many times as the job allows.
    current.failed.clear();
    if (!progressed && attempt.epoch === src.epoch) {
      src.failures++;
      src.epoch++;
    }
    const n = Math.max(1, src.failures);
    if (src.failures > job.maxRetries) return { action: 'fail', delayMs: 0, blame: 'proxy', reason: `no proxy left after ${job.maxRetries} retries: every upstream proxy failed for this job; last ${via}: ${c.what}` };
    const delayMs = progressed ? 0 : this.backoffMs(n);
    return { action: 'retry', delayMs, blame: 'proxy', reason: `every upstream proxy failed for this job (last ${via}: ${c.what}); round ${n + 1} in ${delayMs} ms` };
  }

  #hostFailure(job: ProxyJob, attempt: RouterAttempt, src: SourceState, c: Classification, evidence: FailureEvidence): FailureDecision {
    const host = hostOf(attempt.url);
    const what = `${c.what} from ${host}${attempt.member.isDirect ? '' : ` via ${attempt.member.address}`}`;
    if (!evidence.error && evidence.status !== undefined && !retriableStatus(evidence.status)) return this.#giveUpSource(job, 'host', what);
    // A mirror that fails is not retried while others remain (cvmfs's host chain).
    if (job.sources.length > 1) return { action: 'skip-source', delayMs: 0, blame: 'host', reason: what };
    if (evidence.bytes > 0) return { action: 'retry', delayMs: 0, blame: 'host', reason: `${what} after ${evidence.bytes} bytes; continuing` };
    if (attempt.epoch === src.epoch) {
      src.failures++;
      src.epoch++;
    }
    if (src.failures > job.maxRetries) return { action: 'fail', delayMs: 0, blame: 'host', reason: `gave up after ${job.maxRetries} retries: ${what}` };
    const delayMs = this.backoffMs(Math.max(1, src.failures));
    return { action: 'retry', delayMs, blame: 'host', reason: `${what}; retry ${src.failures}/${job.maxRetries} in ${delayMs} ms` };
  }

  /** A failure no retry at this source can fix: skip it when others remain, else fail the job. */
  #giveUpSource(job: ProxyJob, blame: Blame, reason: string): FailureDecision {
    return { action: job.sources.length > 1 ? 'skip-source' : 'fail', delayMs: 0, blame, reason };
  }

  /**
   * Ambiguous proxy evidence: blamed on the proxy, unless the URL has now failed this way
   * through every member of its group (two or more), which makes it the host's fault.
   */
  #judgeAmbiguous(plan: Plan, attempt: RouterAttempt, c: Classification): Classification {
    const members = (this.#list.groups[plan.group]?.proxies ?? []).filter((p) => !p.isDirect);
    if (members.length < 2 || !members.includes(attempt.member)) return c;
    let sus = this.#suspicions.get(attempt.url);
    if (!sus || sus.group !== plan.group) {
      if (this.#suspicions.size >= MAX_SUSPICIONS) this.#suspicions.delete(this.#suspicions.keys().next().value!);
      sus = { group: plan.group, members: new Set(), marked: new Set(), switchedAway: false };
      this.#suspicions.set(attempt.url, sus);
    }
    sus.members.add(attempt.member.address);
    if (!members.every((p) => sus.members.has(p.address))) return c;

    // Every member failed for this URL: the host. Undo what blaming the members did.
    this.#suspicions.delete(attempt.url);
    for (const p of sus.marked) this.#list.setHealth(p, true);
    for (const p of members) plan.failed.delete(p.address);
    if (sus.switchedAway && this.#list.activeGroupIndex !== sus.group) this.#list.switchTo(sus.group, `${attempt.url} failed through every member of group ${sus.group}: the host is at fault, not the group`);
    this.#log?.info?.(`${attempt.url} failed through every member of group ${sus.group} (last: ${c.what}): blaming the host, the proxies stay healthy`);
    return { blame: 'host', ambiguous: false, what: `${c.what} through every member of group ${sus.group}` };
  }

  #policyFailure(job: ProxyJob, plan: Plan, what: string): void {
    const pj = this.#policyJob(job, plan);
    try {
      this.#policy.handleFailure(pj, new Error(what));
      plan.index = Number.isInteger(pj.index) ? pj.index : plan.index + 1;
      plan.data = pj.data;
    } catch (err) {
      this.#log?.warn(`proxy policy ${this.#policy.name}: handleFailure threw (${(err as Error).message}); moving to the next member`);
      plan.index++;
    }
  }

  // ---- plans -------------------------------------------------------------

  #planOf(job: ProxyJob): Plan {
    let plan = job.plan instanceof Plan ? job.plan : null;
    if (!plan || plan.revision !== this.#list.revision) {
      plan = this.#replan(job, plan);
      job.plan = plan;
    }
    return plan;
  }

  #maybeReset(): void {
    const s = this.#settings;
    if (!s.optimisticReset || !this.#list.resetDue(s.resetAfterMs)) return;
    const first = this.#list.groups[0]!;
    for (const p of first.proxies) this.#list.setHealth(p, true);
    this.#list.switchTo(0, `reset_after ${s.resetAfterMs / 1000} s elapsed on group ${this.#list.activeGroupIndex}`);
  }

  #policyJob(job: ProxyJob, plan: Plan): PolicyJob {
    const members = this.#list.groups[plan.group]?.proxies ?? [];
    return {
      key: job.key,
      url: job.sources[0] ?? job.key,
      group: plan.group,
      members: members.map((p) => ({ address: p.address, healthy: p.healthy, failed: plan.failed.has(p.address) })),
      order: plan.order,
      index: plan.index,
      data: plan.data,
    };
  }

  #replan(job: ProxyJob, old: Plan | null): Plan {
    const plan = new Plan(this.#list.revision, this.#list.activeGroupIndex);
    if (old) {
      for (const a of old.failed) plan.failed.add(a);
      for (const [url, s] of old.sources) plan.sources.set(url, s);
      plan.data = old.data;
    }
    const n = this.#list.activeGroup.proxies.length;
    const pj = this.#policyJob(job, plan);
    try {
      this.#policy.setPreferredProxy(pj);
    } catch (err) {
      this.#log?.warn(`proxy policy ${this.#policy.name}: setPreferredProxy threw (${(err as Error).message}); using the default order`);
      this.#fallbackPolicy.setPreferredProxy(pj);
    }
    // A custom policy's order is trusted only as far as it names valid members; the rest follow in list order.
    const seen = new Set<number>();
    for (const i of Array.isArray(pj.order) ? pj.order : []) if (Number.isInteger(i) && i >= 0 && i < n && !seen.has(i)) seen.add(i);
    for (let i = 0; i < n; i++) seen.add(i);
    plan.order = [...seen];
    plan.index = Number.isInteger(pj.index) && pj.index >= 0 ? pj.index : 0;
    plan.data = pj.data;
    return plan;
  }

  /**
   * From the lane's position on: the first healthy member the job has not failed, else the
   * first it has not failed, else the one at the position.
   */
  #pick(plan: Plan, lane: number): Proxy {
    const members = this.#list.groups[plan.group]!.proxies;
    const order = plan.order;
    const n = order.length;
    const from = (plan.index + (this.#policy.spread === true ? lane : 0)) % n;
    let fallback = -1;
    for (let k = 0; k < n; k++) {
      const p = members[order[(from + k) % n]!]!;
      if (plan.failed.has(p.address)) continue;
      if (p.healthy) return p;
      if (fallback < 0) fallback = (from + k) % n;
    }
    return members[order[fallback >= 0 ? fallback : from]!]!;
  }
}

/** 5xx, 408 Request Timeout and 429 Too Many Requests may pass; other 4xx will not. */
function retriableStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

function viaOf(a: RouterAttempt): string {
  return a.member.isDirect ? 'DIRECT' : a.member.address;
}
