import { afterEach, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupAgents, runCli, startAgent, tempDir } from '../../helpers/agent.js';

afterEach(cleanupAgents);

describe('proxyctl download input checks', () => {
  it('bad input: exit 2 for malformed flags and ids, exit 1 for what the agent refuses', async () => {
    const agent = await startAgent({ config: { downloads: { part_size: 65536 } } });
    // What the CLI itself checks (exit 2), and a few refusals of the agent (exit 1); the rest of the agent's checks are in queue.test.ts.
    const cases: Array<[string[], number, RegExp]> = [
      [['download', 'add', 'http://h/x', '--sha256', 'abc'], 2, /--sha256: must be 64 hex digits/],
      [['download', 'add'], 2, /give a URL \(more URLs are mirrors of the same file\), or --input-file FILE/],
      [['download', 'add', '-i', '/nonexistent/jobs.txt'], 2, /--input-file \/nonexistent\/jobs\.txt: cannot read \(ENOENT\)/],
      [['download', 'info', 'abc'], 2, /job id must be a positive integer \(got "abc"\)/],
      [['download', 'add', 'ftp://h/x'], 1, /unsupported scheme "ftp"/],
      [['download', 'add', 'http://h/x', '--dest', 'sub/dir/', '--max-rate', '1M'], 1, /names a directory/],
      [['download', 'cancel', '42'], 1, /no download job 42/],
    ];
    for (const [args, code, msg] of cases) {
      const r = await agent.cli(args);
      expect(r.code, args.join(' ')).toBe(code);
      expect(r.stderr, args.join(' ')).toMatch(msg);
    }
    expect(await agent.rpc('download.list', {})).toEqual([]);
  }, 120_000);

  it('an agent refuses a config naming downloads.concurrency, saying it is now downloads.max_active', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ downloads: { concurrency: 2 } }));
    const r = await runCli(['agent', 'start', '--state-dir', dir, '--config', join(dir, 'config.json')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/downloads\.concurrency: renamed to downloads\.max_active \(jobs downloading at once\); connections per job are downloads\.connections/);
  });
});
