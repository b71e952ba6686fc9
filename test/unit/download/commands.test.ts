import { describe, expect, it } from 'vitest';
import { CommandRegistry } from '../../../src/control/registry.js';
import { downloadCommands } from '../../../src/download/commands.js';
import type { AddRequest, DownloadManager } from '../../../src/download/queue.js';

/** The download commands' talk forms, through the registry as the socket uses it, against a manager that records. */
function setup() {
  const added: AddRequest[][] = [];
  const purged: Array<readonly number[] | 'finished'> = [];
  const manager = {
    add: (reqs: AddRequest[]) => {
      added.push(reqs);
      return reqs.map((_, i) => ({ id: i + 1, existing: false }));
    },
    purge: async (t: readonly number[] | 'finished') => {
      purged.push(t);
      return t === 'finished' ? [1, 2] : [...t];
    },
  } as unknown as DownloadManager;
  const registry = new CommandRegistry();
  registry.add(...downloadCommands(() => manager));
  const talk = async (line: string): Promise<string> => {
    const m = registry.matchTalk(line)!;
    const result = await registry.invoke(m.command, registry.talkParams(m.command, m.args, m.rest), { dialect: 'talk' });
    return registry.renderText(m.command, result);
  };
  return { added, purged, talk };
}

describe('download commands over talk', () => {
  it('adds a job with mirrors, quoted header values and a rate with a suffix', async () => {
    const { added, talk } = setup();
    expect(await talk(`download add http://a/f.iso http://b/f.iso connections=4 rate=500K header="Authorization: Bearer t" dest='my f.iso'`)).toBe('1');
    expect(added[0]).toEqual([
      { urls: ['http://a/f.iso', 'http://b/f.iso'], dest: 'my f.iso', sha256: undefined, index: undefined, max_rate: 512000, connections: 4, headers: [['Authorization', 'Bearer t']], ca_file: undefined, force: undefined },
    ]);
  });

  it('refuses an unknown option, naming the usage', async () => {
    const { talk } = setup();
    await expect(talk('download add http://a/f speed=fast')).rejects.toThrow(/unknown option "speed=fast" \(URL \[URL…\] \[dest=PATH\]/);
    await expect(talk('download add dest=x')).rejects.toThrow(/a URL is required/);
  });

  it('purges ids or every ended job', async () => {
    const { purged, talk } = setup();
    expect(await talk('download purge finished')).toBe('purged: 1 2');
    expect(await talk('download purge 3 4')).toBe('purged: 3 4');
    expect(purged).toEqual(['finished', [3, 4]]);
  });
});
