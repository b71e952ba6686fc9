import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../../helpers/agent.js';

/**
 * What the agent's start costs in modules: undici (~110 modules) and prom-client (~80 with its
 * OpenTelemetry dependency) are loaded by their first use (a download, a health check, an
 * instance probe, a scrape), not by importing the agent. Checked in a fresh process on dist/.
 */
describe('the agent module graph', () => {
  it('does not load undici or prom-client until something uses them', () => {
    const main = join(ROOT, 'dist/src/agent/main.js');
    const code = `import(${JSON.stringify(main)}).then(() => process.stdout.write(JSON.stringify(Object.keys(require.cache))))`;
    const loaded = JSON.parse(execFileSync(process.execPath, ['-e', code], { encoding: 'utf8' })) as string[];
    expect(loaded.length).toBeGreaterThan(0); // better-sqlite3 and pino are (the check sees CommonJS modules)
    expect(loaded.filter((f) => /node_modules\/(undici|prom-client|@opentelemetry)\//.test(f))).toEqual([]);
  });
});
