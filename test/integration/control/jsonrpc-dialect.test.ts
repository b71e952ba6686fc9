import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeInProcessAgents, startInProcessAgent, type InProcessAgent } from '../../helpers/in-process-agent.js';
import { rpcLines } from '../../helpers/socket-client.js';

/** The JSON-RPC dialect, on an in-process agent's real socket. */

let agent: InProcessAgent;
beforeAll(async () => {
  agent = await startInProcessAgent();
});
afterAll(closeInProcessAgents);

describe('control socket: JSON-RPC dialect', () => {
  it('keeps the connection open for several requests and answers by id', async () => {
    const replies = await rpcLines(agent.socket, [
      '{"jsonrpc":"2.0","id":1,"method":"agent.pid"}',
      '{"jsonrpc":"2.0","id":"b","method":"agent.status","params":{}}',
      '{"jsonrpc":"2.0","method":"agent.version"}', // a notification: no reply
      '{"jsonrpc":"2.0","id":3,"method":"agent.uptime"}',
    ], 3);
    const byId = new Map(replies.map((r) => [r.id, r]));
    expect(byId.get(1)!.result).toBe(agent.pid);
    expect(byId.get('b')!.result.pid).toBe(agent.pid);
    expect(typeof byId.get(3)!.result).toBe('number');
  });

  it('uses the standard error codes and carries the PXC code in error.data', async () => {
    const [parse, invalid, notFound, params] = await rpcLines(agent.socket, [
      '{"jsonrpc":"2.0","id":1,"method":',
      '{"id":2,"method":"agent.pid"}',
      '{"jsonrpc":"2.0","id":3,"method":"frob.nicate"}',
      '{"jsonrpc":"2.0","id":4,"method":"agent.pid","params":{"x":1}}',
    ]);
    expect(parse!.error.code).toBe(-32700);
    expect(invalid!.error.code).toBe(-32600);
    expect(notFound!.error).toMatchObject({ code: -32601, data: { code: 'PXC_ERR_UNKNOWN_COMMAND' } });
    expect(params!.error).toMatchObject({ code: -32602, data: { code: 'PXC_ERR_BAD_PARAMS' } });
    expect(params!.error.message).toContain('x');
  });

  it('reports a null config path when the agent runs with no config file at all', async () => {
    const status = await agent.rpc<{ config_path: string | null }>('agent.status');
    expect(status.config_path).toBeNull();
  });
});
