import { Flags } from '@oclif/core';
import { ClientCommand } from '../src/cli/client-command.js';
import { untilInterrupted } from '../src/cli/live.js';
import { describeEvent, describeLost, type EventParams } from '../src/ui/render/events.js';

export default class Events extends ClientCommand {
  static override summary = "Print the agent's live events, one line each, until Ctrl-C";
  static override description = `Subscribes to the agent's events (JSON-RPC 'events.subscribe' on the control socket) and prints each as it comes: deploy phases, service instance exits, restarts, scale and health, proxy switches and health, target health, downloads, reloads (see EVENTS in proxyctl(1), or 'proxyctl events --list'). --topic takes a topic or a family (deploy, service, proxy, download, target, agent) and may be repeated; without it every topic but service.log. With --json each line is the event's JSON object (topic, time, seq and its fields). A reader that falls behind gets a 'lost N events' line where the agent dropped events for it. Ctrl-C exits 0.`;
  static override enableJsonFlag = true;
  static override examples = [
    '<%= config.bin %> events',
    '<%= config.bin %> events --topic deploy --topic service.exit',
    '<%= config.bin %> events --json | jq -c \'select(.topic == "service.exit")\'',
    '<%= config.bin %> events --list',
  ];
  static override flags = {
    topic: Flags.string({ char: 't', description: 'a topic or family to print (repeatable; default: all but service.log)', multiple: true }),
    list: Flags.boolean({ description: 'list the topics and their fields, then exit' }),
  };

  async run(): Promise<unknown> {
    const { flags } = await this.parse(Events);
    const socket = this.socketPath(flags);
    if (flags.list) {
      const topics = await this.call(socket, 'events.topics', {});
      for (const t of topics) this.log(`${t.topic}\n  ${t.summary}\n  fields: ${t.fields}`);
      return topics;
    }
    const json = this.jsonEnabled();
    await this.withClient(socket, async (client) => {
      client.onNotification((n) => {
        if (n.method === 'event') process.stdout.write(`${json ? JSON.stringify(n.params) : describeEvent(n.params as EventParams)}\n`);
        else if (n.method === 'lost') process.stdout.write(`${json ? JSON.stringify({ lost: n.params }) : describeLost(n.params as { dropped: number; time: string })}\n`);
      });
      const all = await client.call('events.topics', {});
      const topics = flags.topic ?? all.map((t) => t.topic).filter((t) => t !== 'service.log');
      await client.call('events.subscribe', { topics });
      await untilInterrupted(client);
    });
    return undefined;
  }
}
