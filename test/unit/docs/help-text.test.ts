import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../../helpers/agent.js';

const manifest = JSON.parse(readFileSync(join(ROOT, 'oclif.manifest.json'), 'utf8')) as {
  commands: Record<string, { pluginName: string; description?: string }>;
};

/**
 * oclif re-wraps descriptions to the terminal width, so a line broken by hand in
 * the middle of a sentence comes out ragged ("... bad params (the" / "message names ...").
 * A description is paragraphs (one line each) and indented preformatted lines.
 */
function midSentenceBreaks(description: string): string[] {
  const lines = description.split('\n');
  const bad: string[] = [];
  for (let i = 0; i + 1 < lines.length; i++) {
    const [a, b] = [lines[i]!, lines[i + 1]!];
    if (a.trim() === '' || b.trim() === '' || /^\s/.test(a) || /^\s/.test(b)) continue;
    if (!/[.:;!?)\]]$/.test(a.trimEnd())) bad.push(`${a} ⏎ ${b}`);
  }
  return bad;
}

describe('help text', () => {
  it('command descriptions never break a sentence across lines', () => {
    const offenders = Object.entries(manifest.commands)
      .filter(([, c]) => c.pluginName === 'proxyctl' && c.description)
      .flatMap(([id, c]) => midSentenceBreaks(c.description!).map((l) => `${id}: ${l}`));
    expect(offenders).toEqual([]);
  });
});
