import type { Hook } from '@oclif/core';
import { EXIT_USAGE } from '../exit-codes.js';
import { oneLineError } from '../client-command.js';
import { didYouMean, typedWords } from '../suggest.js';

/**
 * An unknown command is a usage error (exit 2) in one line: the words as typed
 * (a URL keeps its colon), the nearest command (`did you mean …`), else the
 * topic's commands. Never a prompt: scripts read this line too (oclif's
 * plugin-not-found asks interactively and exits 127).
 */
const hook: Hook<'command_not_found'> = async function (opts) {
  const ids = opts.config.commandIDs;
  const words = typedWords(opts.id, process.argv.slice(2));
  // `proxyctl stats extra`: a known command given words it does not take, not an unknown command.
  for (let n = words.length - 1; n > 0; n--) {
    const id = words.slice(0, n).join(':');
    if (!ids.includes(id)) continue;
    const name = words.slice(0, n).join(' ');
    const extra = words.slice(n);
    process.stderr.write(oneLineError(`${name}: unexpected argument${extra.length > 1 ? 's' : ''} "${extra.join(' ')}"; see 'proxyctl ${name} --help'`));
    this.exit(EXIT_USAGE);
  }
  const typed = words.join(' ');
  const guess = didYouMean(words, ids, opts.config.topics.map((t) => t.name));
  if (guess) {
    process.stderr.write(oneLineError(`unknown command "${typed}"; did you mean \`${guess}\`? (see 'proxyctl ${guess} --help')`));
    this.exit(EXIT_USAGE);
  }
  const topic = words.length > 1 ? words[0] : undefined;
  const siblings = topic ? ids.filter((id) => id.startsWith(`${topic}:`)).map((id) => id.replaceAll(':', ' ')) : [];
  const hint = siblings.length ? ` (${topic} commands: ${siblings.join(', ')})` : "; see 'proxyctl help'";
  process.stderr.write(oneLineError(`unknown command "${typed}"${hint}`));
  this.exit(EXIT_USAGE);
};

export default hook;
