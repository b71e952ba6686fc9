import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type { JobView } from '../../../src/download/job.js';
import type { TestAgent } from '../../helpers/agent.js';

/** A spawned or an in-process agent: only its socket is used. */
type AgentClient = Pick<TestAgent, 'rpc'>;
import { waitFor } from '../../helpers/wait.js';

export const sha256File = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');
export const fileExists = existsSync;

export const info = (agent: AgentClient, id: number): Promise<JobView> => agent.rpc<JobView>('download.info', { id });

export async function add(agent: AgentClient, params: Record<string, unknown>): Promise<number> {
  return (await agent.rpc<{ id: number }>('download.add', params)).id;
}

/** Waits until the job satisfies `pred` (default: a final state) and returns it. */
export function waitJob(agent: AgentClient, id: number, pred: (j: JobView) => boolean = (j) => ['done', 'failed', 'cancelled'].includes(j.state), timeoutMs = 30_000): Promise<JobView> {
  return waitFor(`job ${id}`, async () => {
    const j = await info(agent, id);
    return pred(j) ? j : null;
  }, { timeoutMs, intervalMs: 25 });
}

export const rpcError = async (p: Promise<unknown>): Promise<{ code: string; message: string }> => {
  try {
    await p;
  } catch (err) {
    const e = err as Error & { rpc?: { data?: { code?: string } } };
    return { code: e.rpc?.data?.code ?? 'none', message: e.message };
  }
  throw new Error('expected an error reply');
};
