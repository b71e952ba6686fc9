import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { SerialQueue } from '../../../src/deploy/data-proxy/serial-queue.js';

describe('SerialQueue', () => {
  it('never runs two tasks at once, even when they await', async () => {
    const q = new SerialQueue();
    let running = 0;
    let max = 0;
    const task = async () => {
      running++;
      max = Math.max(max, running);
      await sleep(1);
      await Promise.resolve();
      running--;
    };
    await Promise.all(Array.from({ length: 20 }, () => q.run(task)));
    expect(max).toBe(1);
  });

  it('runs tasks in the order they were queued', async () => {
    const q = new SerialQueue();
    const order: number[] = [];
    await Promise.all([30, 1, 10, 0].map((ms, i) => q.run(async () => {
      await sleep(ms);
      order.push(i);
    })));
    expect(order).toEqual([0, 1, 2, 3]);
  });

  it('returns each task’s value, and a failed task does not stop the queue', async () => {
    const q = new SerialQueue();
    const failed = q.run(() => {
      throw new Error('boom');
    });
    const next = q.run(() => 42);
    await expect(failed).rejects.toThrow('boom');
    await expect(next).resolves.toBe(42);
  });

  it('idle() waits for every task queued so far', async () => {
    const q = new SerialQueue();
    let done = 0;
    for (let i = 0; i < 3; i++) void q.run(async () => {
      await sleep(2);
      done++;
    });
    expect(q.pending).toBe(3);
    await q.idle();
    expect(done).toBe(3);
    expect(q.pending).toBe(0);
  });
});
