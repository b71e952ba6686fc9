import { Args } from '@oclif/core';
import { ClientCommand } from '../../src/cli/client-command.js';
import type { ServiceInfo } from '../../src/deploy/controller.js';
import { makeChalk, stateColour } from '../../src/ui/colour.js';
import { renderKeyValues, renderTable } from '../../src/ui/table.js';

export default class ServiceInfoCommand extends ClientCommand {
  static override summary = 'Show a service: instances (pids, ports, states, exits, restarts), shards, last operations';
  static override description = `Shows the service's version, how many of its instances serve, its restart policy and restarts, each instance (role current, previous during a rollout, launching; its exit and next restart after a crash), the shard totals of a data proxy, and the last operations ('proxyctl service history' has them all).`;
  static override enableJsonFlag = true;
  static override examples = ['<%= config.bin %> service info notes', '<%= config.bin %> service info notes --json'];
  static override args = {
    service: Args.string({ description: 'service name', required: true }),
  };

  async run(): Promise<ServiceInfo> {
    const { args, flags } = await this.parse(ServiceInfoCommand);
    const info = await this.call(this.socketPath(flags), 'service.info', { service: args.service });
    const c = makeChalk();
    this.log(
      renderKeyValues({
        service: info.name,
        app: info.app,
        state: stateColour(c, info.state),
        health: stateColour(c, info.health),
        degraded: info.degraded_reason,
        version: info.version === null ? null : `v${info.version}${info.previous_version === null ? '' : ` (previous v${info.previous_version})`}${info.config_changed ? ' — the config differs: a deploy applies it' : ''}`,
        instances: `${info.ready}/${info.scale} ready`,
        restarts: `${info.restarts} (restart ${info.restart.policy}, max_restarts ${info.restart.max_restarts}, restart_delay ${info.restart.restart_delay} s)`,
        'req/s': info.req_rate,
      }),
    );
    const instances = info.instances;
    this.log('');
    this.log(
      instances.length === 0
        ? 'no instances'
        : renderTable(
            ['#', 'ROLE', 'VERSION', 'PID', 'ADDRESS', 'STATE', 'LAUNCHED', 'READY', 'EXIT', 'RESTARTS', 'REQUESTS', 'REQ/S'],
            instances.map((i) => [
              i.instance,
              i.role,
              `v${i.version}`,
              i.pid ?? '-',
              i.address,
              stateColour(c, i.state),
              i.launched_at,
              i.ready_at ?? '-',
              i.exit ? `${i.exit.error ?? (i.exit.signal ? i.exit.signal : `code ${i.exit.code}`)} at ${i.exit.at}` : '-',
              `${i.restarts}${i.next_restart_at ? ` (next ${i.next_restart_at.slice(11, 23)})` : i.gave_up ? ' (gave up)' : ''}`,
              i.requests?.total ?? '-',
              i.requests?.rate_1s ?? '-',
            ]),
          ),
    );
    const shards = Object.entries(info.shards);
    if (shards.length > 0) {
      this.log('');
      this.log(renderTable(['SHARD', 'TOTAL', 'REQ/S (1s)', 'REQ/S (10s)'], shards.map(([id, s]) => [id, s.total, s.rate_1s, s.rate_10s])));
    }
    if (info.deploys.length > 0) {
      this.log('');
      this.log(
        renderTable(
          ['ID', 'KIND', 'FROM', 'TO', 'RESULT', 'STARTED', 'FINISHED', 'ERROR'],
          info.deploys
            .slice(-5)
            .reverse()
            .map((d) => [d.id, d.kind, d.from_version === null ? '-' : `v${d.from_version}`, d.kind === 'scale' ? `${d.instances} inst.` : `v${d.version}`, stateColour(c, d.result), d.started_at, d.finished_at ?? '-', d.error ?? '']),
        ),
      );
    }
    return info;
  }
}
