import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../../helpers/agent.js';
import { renderAll } from '../../../scripts/gen-man.js';

const manifest = JSON.parse(readFileSync(join(ROOT, 'oclif.manifest.json'), 'utf8')) as { commands: Record<string, { pluginName: string; hidden?: boolean; flags: Record<string, { hidden?: boolean }> }> };
const page = (name: string) => readFileSync(join(ROOT, 'man', name), 'utf8');

describe('man pages', () => {
  it('proxyctl.1 has a section for every command of the CLI', () => {
    const man = page('proxyctl.1');
    const ids = Object.keys(manifest.commands).filter((id) => manifest.commands[id]!.pluginName === 'proxyctl' && !manifest.commands[id]!.hidden);
    expect(ids.length).toBeGreaterThan(5);
    const missing = ids.filter((id) => !man.includes(`.SS "proxyctl ${id.replaceAll(':', ' ')}`));
    expect(missing, 'run `npm run build && npm run man`').toEqual([]);
  });

  it('proxyctl.1 documents every flag of every command', () => {
    const man = page('proxyctl.1');
    for (const [id, c] of Object.entries(manifest.commands)) {
      if (c.pluginName !== 'proxyctl') continue;
      for (const [name, f] of Object.entries(c.flags)) {
        if (!f.hidden) expect(man, `${id} --${name}`).toContain(`\\-\\-${name.replaceAll('-', '\\-')}`);
      }
    }
  });

  it('the committed pages are what the code declares (commands, flags, config keys, error codes)', async () => {
    const pages = (await renderAll()) as Record<string, string>;
    expect(page('proxyctl.1'), 'man/proxyctl.1 is stale: run `npm run build && npm run man`').toBe(pages['proxyctl.1']);
    expect(page('proxyctl.conf.5'), 'man/proxyctl.conf.5 is stale: run `npm run build && npm run man`').toBe(pages['proxyctl.conf.5']);
  });
});
