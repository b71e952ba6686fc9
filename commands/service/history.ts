import { Args, Flags } from '@oclif/core';
import { ClientCommand } from '../../src/cli/client-command.js';
import type { ServiceHistoryView } from '../../src/deploy/controller.js';
import { makeChalk, stateColour } from '../../src/ui/colour.js';
import { describeChange, duration } from '../../src/ui/render/services.js';
import { renderTable } from '../../src/ui/table.js';

export default class ServiceHistory extends ClientCommand {
  static override summary = "Show a service's releases and operations (deploys, rollbacks, restarts, scales), kept across agent restarts";
  static override description = `Operations newest first: id, kind, versions, result, start time, duration and error. Then the releases: each version's command, where it came from (the config, or a rollback to an earlier version's command) and which one is current and previous ('proxyctl deploy SERVICE --rollback' goes back to the previous one, '--to V' to another). Kept in state.db: the last 100 operations and 50 releases per service.`;
  static override enableJsonFlag = true;
  static override examples = ['<%= config.bin %> service history notes', '<%= config.bin %> service history notes --limit 10', '<%= config.bin %> service history notes --json'];
  static override args = {
    service: Args.string({ description: 'service name', required: true }),
  };
  static override flags = {
    limit: Flags.integer({ char: 'n', description: 'operations to show, newest first (1-100)', default: 20, min: 1, max: 100 }),
  };

  async run(): Promise<ServiceHistoryView> {
    const { args, flags } = await this.parse(ServiceHistory);
    const h = await this.call(this.socketPath(flags), 'service.history', { service: args.service, limit: flags.limit });
    const c = makeChalk();
    if (h.deploys.length === 0) this.log(`${h.service}: no operations yet`);
    else
      this.log(
        renderTable(
          ['ID', 'KIND', 'CHANGE', 'RESULT', 'STARTED', 'TOOK', 'ERROR'],
          [...h.deploys].reverse().map((d) => [d.id, d.kind, describeChange(d), stateColour(c, d.result), d.started_at, duration(d), d.error ?? '']),
        ),
      );
    if (h.releases.length > 0) {
      this.log('');
      this.log(
        renderTable(
          ['VERSION', '', 'CREATED', 'SOURCE', 'COMMAND'],
          [...h.releases].reverse().map((r) => [
            `v${r.version}`,
            r.version === h.version ? 'current' : r.version === h.previous_version ? 'previous' : '',
            r.created_at,
            r.source === 'rollback' ? `rollback to v${r.rollback_of}` : 'config',
            `${r.command.join(' ')}${Object.keys(r.env).length ? `  (env ${Object.keys(r.env).sort().join(', ')})` : ''}`,
          ]),
        ),
      );
    }
    return h;
  }
}
