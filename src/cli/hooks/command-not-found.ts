import type { Hook } from '@oclif/core';
import { EXIT_USAGE } from '../exit-codes.js';
import { oneLineError } from '../client-command.js';

/** An unknown command is a usage error (exit 2), with the nearest topic's commands as a hint. */
const hook: Hook<'command_not_found'> = async function (opts) {
  const words = opts.id.split(':');
  // `proxyctl stats extra`: a known command given words it does not take, not an unknown command.
  for (let n = words.length - 1; n > 0; n--) {
    const id = words.slice(0, n).join(':');
    if (!opts.config.commandIDs.includes(id)) continue;
    const name = words.slice(0, n).join(' ');
    const extra = words.slice(n);
    process.stderr.write(oneLineError(`${name}: unexpected argument${extra.length > 1 ? 's' : ''} "${extra.join(' ')}"; see 'proxyctl ${name} --help'`));
    this.exit(EXIT_USAGE);
  }
  const topic = words.length > 1 ? words[0] : undefined;
  const siblings = topic ? opts.config.commandIDs.filter((id) => id.startsWith(`${topic}:`)).map((id) => id.replaceAll(':', ' ')) : [];
  const hint = siblings.length ? ` (${topic} commands: ${siblings.join(', ')})` : "; see 'proxyctl help'";
  process.stderr.write(oneLineError(`unknown command "${words.join(' ')}"${hint}`));
  this.exit(EXIT_USAGE);
};

export default hook;
