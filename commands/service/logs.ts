import { Args, Flags } from '@oclif/core';
import { ClientCommand } from '../../src/cli/client-command.js';
import { untilInterrupted } from '../../src/cli/live.js';
import type { ServiceLogLine, ServiceLogs } from '../../src/deploy/commands.js';
import { renderLogLine } from '../../src/ui/render/services.js';

export default class ServiceLogsCommand extends ClientCommand {
  static override summary = "Print the last lines of a service's instances' stdout and stderr, and follow new ones";
  static override description = `The agent keeps the last 1000 lines per service (every version, failed ones included); each line shows its time, version (and instance, when there are several) and stream. With --follow the command then prints new lines as the instances write them (the agent's service.log events) until Ctrl-C; with --json each line is one JSON object (seq, at, version, instance, stream, line).`;
  static override enableJsonFlag = true;
  static override examples = ['<%= config.bin %> service logs notes', '<%= config.bin %> service logs notes --lines 20', '<%= config.bin %> service logs notes --follow', '<%= config.bin %> service logs notes -f --json | jq -r .line'];
  static override args = {
    service: Args.string({ description: 'service name', required: true }),
  };
  static override flags = {
    lines: Flags.integer({ char: 'n', description: 'how many of the last lines (1-1000)', default: 100, min: 1, max: 1000 }),
    follow: Flags.boolean({ char: 'f', description: 'keep printing new lines until Ctrl-C' }),
  };

  async run(): Promise<ServiceLogs | void> {
    const { args, flags } = await this.parse(ServiceLogsCommand);
    const socket = this.socketPath(flags);
    if (!flags.follow) {
      const logs = await this.call(socket, 'service.logs', { service: args.service, lines: flags.lines });
      for (const l of logs.lines) this.log(renderLogLine(logs.service, l));
      return logs;
    }
    const json = this.jsonEnabled();
    const print = (l: ServiceLogLine) => process.stdout.write(`${json ? JSON.stringify(l) : renderLogLine(args.service, l)}\n`);
    await this.withClient(socket, async (client) => {
      // Subscribed before reading the tail, so no line falls between them; the seq drops what both have.
      const early: ServiceLogLine[] = [];
      let last = Infinity;
      client.onNotification((n) => {
        if (n.method !== 'event' || n.params.topic !== 'service.log' || n.params.service !== args.service) return;
        const p = n.params as unknown as Omit<ServiceLogLine, 'seq'> & { time: string; log_seq: number };
        const line: ServiceLogLine = { at: p.time, version: p.version, instance: p.instance, stream: p.stream, line: p.line, seq: p.log_seq };
        if (last === Infinity) early.push(line);
        else if (line.seq > last) {
          last = line.seq;
          print(line);
        }
      });
      await client.call('events.subscribe', { topics: ['service.log'] });
      const tail = await client.call('service.logs', { service: args.service, lines: flags.lines });
      for (const l of tail.lines) print(l);
      last = tail.lines.at(-1)?.seq ?? 0;
      for (const l of early) if (l.seq > last) print(l), (last = l.seq);
      await untilInterrupted(client);
    });
  }
}
