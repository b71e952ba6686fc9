import type { Hook } from '@oclif/core';
import { EXIT_USAGE } from '../exit-codes.js';

/** An unknown command is a usage error (exit 2), with the nearest topic's commands as a hint. */
const hook: Hook<'command_not_found'> = async function (opts) {
  const words = opts.id.split(':');
  const topic = words.length > 1 ? words[0] : undefined;
  const siblings = topic ? opts.config.commandIDs.filter((id) => id.startsWith(`${topic}:`)).map((id) => id.replaceAll(':', ' ')) : [];
  const hint = siblings.length ? ` (${topic} commands: ${siblings.join(', ')})` : "; see 'proxyctl help'";
  this.error(`unknown command "${words.join(' ')}"${hint}`, { exit: EXIT_USAGE });
};

export default hook;
