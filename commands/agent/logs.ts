import { Flags } from '@oclif/core';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { prettyLine } from '../../src/agent/log-format.js';
import { ClientCommand } from '../../src/cli/client-command.js';
import { followLines, tailLines } from '../../src/cli/log-file.js';
import { resolveStateDir } from '../../src/config/paths.js';

export default class AgentLogs extends ClientCommand {
  static override summary = "Print the agent's log (<state dir>/agent.log), and follow it";
  static override description = `An agent started with --detach logs to <state dir>/agent.log as pino JSON lines; this prints the last of them as one readable line each ([time] LEVEL: message {fields}), in colour on a terminal, and with --follow the new ones until Ctrl-C. --json prints the JSON lines as they are. The file is read directly, so it works when the agent has stopped too. A foreground agent logs to its standard error instead (readable lines on a terminal).`;
  static override examples = ['<%= config.bin %> agent logs', '<%= config.bin %> agent logs -n 20 --follow', '<%= config.bin %> agent logs --json | jq -c \'select(.level >= 50)\''];
  static override flags = {
    lines: Flags.integer({ char: 'n', description: 'how many of the last lines', default: 100, min: 1 }),
    follow: Flags.boolean({ char: 'f', description: 'keep printing new lines until Ctrl-C' }),
    json: Flags.boolean({ description: 'print the JSON lines as the agent wrote them' }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(AgentLogs);
    const path = join(resolveStateDir(flags['state-dir']), 'agent.log');
    if (!existsSync(path)) this.fail(`no log at ${path}: the agent writes it only when started with --detach (a foreground agent logs to its standard error)`);
    const format = flags.json ? (l: string) => l : await prettyLine(Boolean(process.stdout.isTTY) && !process.env.NO_COLOR);
    const print = (l: string) => {
      if (l !== '') process.stdout.write(`${format(l)}\n`);
    };
    const { lines, offset } = tailLines(path, flags.lines);
    for (const l of lines) print(l);
    if (!flags.follow) return;
    const stop = new AbortController();
    const done = () => stop.abort();
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
    try {
      await followLines(path, offset, print, stop.signal);
    } finally {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
    }
  }
}
