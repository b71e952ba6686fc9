import { Args } from '@oclif/core';
import { ClientCommand } from '../src/cli/client-command.js';
import { talk } from '../src/control/client.js';

export default class Talk extends ClientCommand {
  static override summary = 'Send one talk line to the agent and print the reply as is';
  static override description = "The human dialect of the control socket, as cvmfs_talk: the same as `printf 'WORDS\\n' | socat - UNIX-CONNECT:SOCKET`. Exits 1 when the reply starts with 'error:'. 'proxyctl talk help' lists the commands.";
  static override strict = false;
  static override examples = ['<%= config.bin %> talk help', '<%= config.bin %> talk pid', "<%= config.bin %> talk proxy set 'http://127.0.0.1:3128;DIRECT'"];
  static override args = {
    words: Args.string({ description: 'the talk command and its arguments', required: true }),
  };

  async run(): Promise<void> {
    const { argv, flags } = await this.parse(Talk);
    const reply = await talk(this.socketPath(flags), (argv as string[]).join(' '));
    process.stdout.write(reply);
    if (reply.startsWith('error:')) this.exit(1);
  }
}
