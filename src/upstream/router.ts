import type { FailureDecision, ProxyAttempt, ProxyFailureKind, ProxyJob, ProxyRouter } from './api.js';
import { describeError } from './classify.js';
import { defaultPolicy, type PolicyJob, type SelectionPolicy } from './policies.js';
import type { Proxy, ProxyList } from './proxy-list.js';

/**
 * The per-request side of the proxy list (cvmfs's SetUrlOptions + the proxy part of
 * VerifyAndFinalize): each job carries a Plan — the list revision it was made at,
 * the group, the policy's member order and the current position. A plan from an
 * older revision (proxy set, group switch, group health change) is re-made at the
 * job's next request; the members a job already failed through stay excluded.
 */

export interface RouterSettings {
  timeoutMs: number;
  timeoutDirectMs: number;
  lowSpeedLimit: number;
  backoffInitMs: number;
  backoffMaxMs: number;
  /** Slow transfers a job may have in a row before it fails. */
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
}

/** Router-owned state kept on `job.plan`. */
export class Plan {
  constructor(
    public revision: number,
    public group: number,
    public order: number[],
    public index: number,
    public data: unknown,
    /** Addresses this job failed through (across re-plans). */
    readonly failed: Set<string>,
    public proxyFailures: number,
    public slowCount: number,
    public current: Proxy | null,
  ) {}
}

export class UpstreamRouter implements ProxyRouter {
  readonly #list: ProxyList;
  #settings: RouterSettings;
  #policy: SelectionPolicy;
  readonly #log: RouterLogger | undefined;
  readonly #fallbackPolicy = defaultPolicy();

  constructor(list: ProxyList, settings: RouterSettings, policy: SelectionPolicy, log?: RouterLogger) {
    this.#list = list;
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

  attempt(job: ProxyJob): ProxyAttempt {
    this.#maybeReset();
    let plan = job.plan instanceof Plan ? job.plan : null;
    if (!plan || plan.revision !== this.#list.revision) {
      plan = this.#replan(job, plan);
      job.plan = plan;
    }
    const proxy = this.#pick(plan);
    plan.current = proxy;
    proxy.metrics.requests.inc();
    if (plan.group === this.#list.activeGroupIndex) this.#list.noteUsed(proxy);
    const s = this.#settings;
    return { proxy: proxy.url, timeoutMs: proxy.isDirect ? s.timeoutDirectMs : s.timeoutMs, lowSpeedLimit: s.lowSpeedLimit };
  }

  reportSuccess(job: ProxyJob): void {
    const plan = job.plan instanceof Plan ? job.plan : null;
    if (!plan?.current) return;
    plan.slowCount = 0;
    // A request that went through proves the proxy works, whatever the last probe said.
    if (!plan.current.isDirect) this.#list.setHealth(plan.current, true);
  }

  reportFailure(job: ProxyJob, attempt: ProxyAttempt, kind: ProxyFailureKind, error: Error): FailureDecision {
    const plan = job.plan instanceof Plan ? job.plan : null;
    const proxy = plan?.current ?? null;
    const via = attempt.proxy ?? 'DIRECT';
    const what = describeError(error);
    if (proxy) proxy.lastError = `${kind}: ${what}`;
    if (kind === 'host' || !plan || !proxy) {
      proxy?.metrics.failuresHost.inc();
      return { action: 'fail', delayMs: 0, reason: `origin error via ${via}: ${what}` };
    }
    if (kind === 'slow') {
      proxy.metrics.slow.inc();
      plan.slowCount++;
      const s = this.#settings;
      if (plan.slowCount > s.slowRetries) return { action: 'fail', delayMs: 0, reason: `transfer via ${via} under ${s.lowSpeedLimit} B/s ${plan.slowCount} times in a row` };
      const delayMs = Math.min(s.backoffInitMs * 2 ** (plan.slowCount - 1), s.backoffMaxMs);
      return { action: 'retry', delayMs, reason: `slow transfer via ${via} (under ${s.lowSpeedLimit} B/s), retry ${plan.slowCount}/${s.slowRetries} in ${delayMs} ms` };
    }

    // A proxy error: the member is failed for this job and unhealthy for everyone until a probe or a success says otherwise.
    proxy.metrics.failuresProxy.inc();
    plan.proxyFailures++;
    plan.failed.add(proxy.address);
    const revision = this.#list.revision;
    if (!proxy.isDirect) this.#list.setHealth(proxy, false);
    this.#list.failoverIfNeeded(`${via}: ${what} while fetching ${job.url}`);
    if (this.#list.revision === revision) {
      const pj = this.#policyJob(job, plan);
      try {
        this.#policy.handleFailure(pj, error);
        plan.index = Number.isInteger(pj.index) ? pj.index : plan.index + 1;
        plan.data = pj.data;
      } catch (err) {
        this.#log?.warn(`proxy policy ${this.#policy.name}: handleFailure threw (${(err as Error).message}); moving to the next member`);
        plan.index++;
      }
    }
    const untried = [...this.#list.proxies()].some((p) => !plan.failed.has(p.address));
    if (!untried) return { action: 'fail', delayMs: 0, reason: `every upstream proxy failed for this job; last ${via}: ${what}` };
    return { action: 'retry', delayMs: 0, reason: `proxy error via ${via}: ${what}; trying the next proxy` };
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
      url: job.url,
      group: plan.group,
      members: members.map((p) => ({ address: p.address, healthy: p.healthy, failed: plan.failed.has(p.address) })),
      order: plan.order,
      index: plan.index,
      data: plan.data,
    };
  }

  #replan(job: ProxyJob, old: Plan | null): Plan {
    const group = this.#list.activeGroupIndex;
    const plan = new Plan(this.#list.revision, group, [], 0, old?.data ?? null, old?.failed ?? new Set(), old?.proxyFailures ?? 0, old?.slowCount ?? 0, null);
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

  /** From the plan's position on: the first healthy member the job has not failed, else the first it has not failed, else the current one. */
  #pick(plan: Plan): Proxy {
    const members = this.#list.groups[plan.group]!.proxies;
    const order = plan.order;
    const from = Math.min(plan.index, order.length);
    let fallback = -1;
    for (let k = 0; k < order.length; k++) {
      const pos = (from + k) % order.length;
      const p = members[order[pos]!]!;
      if (plan.failed.has(p.address)) continue;
      if (p.healthy) {
        plan.index = pos;
        return p;
      }
      if (fallback < 0) fallback = pos;
    }
    plan.index = fallback >= 0 ? fallback : Math.min(plan.index, order.length - 1);
    return members[order[plan.index]!]!;
  }
}
