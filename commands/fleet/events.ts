import { Flags } from '@oclif/core';
import { ClientCommand } from '../../src/cli/client-command.js';
import { renderEvent } from '../../src/fleet/render.js';

export default class FleetEvents extends ClientCommand {
  static override summary = 'Follow the fleet\'s changes as they happen';
  static override description =
    'Prints config revisions (who pushed what), nodes joining and leaving (a killed agent leaves when its lease expires), nodes applying or refusing a config, fleet deploy progress node by node, and this agent losing or regaining etcd, until interrupted (or --limit / --timeout). The agent watches the fleet for events only while someone follows them. --json prints one JSON object per event and line.';
  static override flags = {
    json: Flags.boolean({ description: 'one JSON object per event and line (NDJSON)' }),
    limit: Flags.integer({ description: 'exit after this many events', min: 1 }),
    timeout: Flags.integer({ description: 'exit after this many seconds', min: 1 }),
  };
  static override examples = ['<%= config.bin %> fleet events', '<%= config.bin %> fleet events --json --limit 10'];

  async run(): Promise<void> {
    const { flags } = await this.parse(FleetEvents);
    const deadline = flags.timeout === undefined ? Infinity : Date.now() + flags.timeout * 1000;
    let seen = 0;
    await this.withClient(this.socketPath(flags), async (client) => {
      let after: number | undefined;
      for (;;) {
        const wait = Math.max(0, Math.min(10, (deadline - Date.now()) / 1000));
        // The first call starts the agent's watch and returns at once: only later changes are shown.
        const r = await client.call('fleet.events', after === undefined ? { wait: 0 } : { after, wait });
        if (after === undefined) {
          if (!flags.json) process.stderr.write('following fleet events (Ctrl-C to stop)\n');
          after = r.last;
          continue;
        }
        after = r.last;
        for (const e of r.events) {
          this.log(flags.json ? JSON.stringify(e) : renderEvent(e));
          if (flags.limit !== undefined && ++seen >= flags.limit) return;
        }
        if (Date.now() >= deadline) return;
      }
    });
  }
}
