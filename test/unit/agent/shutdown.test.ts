import { describe, expect, it } from 'vitest';
import { closeInOrder, shutdownBudgetMs, stopBudgetMs, type ShutdownStep } from '../../../src/agent/shutdown.js';
import { configSchema } from '../../../src/config/schema.js';

/** The agent's stop deadline: hung subsystems are abandoned, the rest still closed, the budget from the config. */

function recorder() {
  const errors: string[] = [];
  return { errors, log: { error: (_obj: object, msg: string) => errors.push(msg) } };
}

describe('closeInOrder', () => {
  it('abandons a step that hangs past the deadline, aborts it, and still closes the steps after it', async () => {
    const order: string[] = [];
    const steps: ShutdownStep[] = [
      { name: 'metrics', close: () => void order.push('metrics') },
      { name: 'deploy', close: () => new Promise<void>(() => order.push('deploy (hangs)')), abort: () => void order.push('deploy aborted') },
      { name: 'forward', close: () => new Promise<void>(() => order.push('forward (hangs)')), abort: () => void order.push('forward aborted') },
      { name: 'downloads', close: async () => void order.push('downloads') },
    ];
    const { errors, log } = recorder();
    const started = Date.now();
    const outcomes = await closeInOrder(steps, started + 200, log, 50);
    const took = Date.now() - started;
    expect(order).toEqual(['metrics', 'deploy (hangs)', 'deploy aborted', 'forward (hangs)', 'forward aborted', 'downloads']);
    expect(outcomes.map((o) => [o.name, o.result])).toEqual([
      ['metrics', 'closed'],
      ['deploy', 'abandoned'],
      ['forward', 'abandoned'],
      ['downloads', 'closed'],
    ]);
    // The deadline, then one hurried turn for the hung step after it.
    expect(took).toBeGreaterThanOrEqual(240);
    expect(took).toBeLessThan(2000);
    expect(errors).toEqual([expect.stringMatching(/^deploy did not close within \d+ ms; abandoned$/), 'forward did not close within 50 ms; abandoned']);
  });

  it('logs a step whose close throws and goes on', async () => {
    const { errors, log } = recorder();
    const outcomes = await closeInOrder([{ name: 'upstream', close: () => Promise.reject(new Error('boom')) }, { name: 'state', close: () => undefined }], Date.now() + 1000, log);
    expect(outcomes.map((o) => o.result)).toEqual(['failed', 'closed']);
    expect(errors).toEqual(['upstream failed to close']);
  });
});

describe('the stop budget', () => {
  const config = (c: object) => configSchema.parse(c);
  const svc = (name: string, stop_timeout: number) => ({ name, app: 'a', command: ['x'], stop_timeout });

  it('is forward.shutdown_grace plus the longest service stop_timeout plus 2 s', () => {
    expect(shutdownBudgetMs(config({}))).toBe(7000);
    expect(shutdownBudgetMs(config({ forward: { shutdown_grace: 0 }, apps: [{ name: 'a', ports: [1] }], services: [svc('s', 10), svc('t', 3)] }))).toBe(12_000);
  });

  it("fits inside the caller's timeout, with 1.5 s to spare for the rest of the stop and the exit", () => {
    expect(stopBudgetMs(config({}), undefined)).toBe(7000);
    expect(stopBudgetMs(config({}), 30)).toBe(7000);
    expect(stopBudgetMs(config({}), 4)).toBe(2500);
    expect(stopBudgetMs(config({}), 1)).toBe(0);
  });
});
