import { afterEach, describe, expect, it } from 'vitest';
import { cleanupAgents, startAgent } from '../../helpers/agent.js';

afterEach(cleanupAgents);

describe('proxyctl download input checks', () => {
  it('bad input: exit 2 for malformed flags and ids, exit 1 for what the agent refuses', async () => {
    const agent = await startAgent({ config: { downloads: { part_size: 65536 } } });
    const cases: Array<[string[], number, RegExp]> = [
      [['download', 'add', 'http://h/x', '--sha256', 'abc'], 2, /--sha256: must be 64 hex digits/],
      [['download', 'add', 'http://h/x', '--index', '-1'], 2, /index/i],
      [['download', 'info', 'abc'], 2, /job id must be a positive integer \(got "abc"\)/],
      [['download', 'watch', '0'], 2, /job id must be a positive integer/],
      [['download', 'pause'], 2, /give a job id or --all/],
      [['download', 'pause', '1', '--all'], 2, /give a job id or --all/],
      [['download', 'add', 'ftp://h/x'], 1, /unsupported scheme "ftp"/],
      [['download', 'add', 'http://h/x', '--dest', '/etc/x'], 1, /outside/],
      [['download', 'info', '42'], 1, /no download job 42/],
      [['download', 'cancel', '42'], 1, /no download job 42/],
    ];
    for (const [args, code, msg] of cases) {
      const r = await agent.cli(args);
      expect(r.code, args.join(' ')).toBe(code);
      expect(r.stderr, args.join(' ')).toMatch(msg);
    }
    expect(JSON.parse((await agent.cli(['download', 'list', '--json'])).stdout)).toEqual([]);
  });
});
