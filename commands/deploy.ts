import { Args, Flags } from '@oclif/core';
import { ClientCommand } from '../src/cli/client-command.js';
import { followOperation } from '../src/cli/follow-operation.js';
import type { ControlClient } from '../src/control/client.js';
import type { DeployRecord } from '../src/deploy/controller.js';
import type { DeployStarted } from '../src/deploy/commands.js';
import { ProxyctlError } from '../src/errors.js';
import type { RolloutRecord } from '../src/fleet/rollout.js';
import { renderRollout } from '../src/fleet/render.js';
import { changed } from '../src/ui/outcome.js';
import { describeChange } from '../src/ui/render/services.js';

export default class Deploy extends ClientCommand {
  static override summary = 'Roll a service to a new version behind its app (or back to the previous one)';
  static override description = `Launches version current+1 of the service from the config, waits for its readiness probe, adds it to the app beside the current one (new connections go to either), and after the service's drain time takes the old one out and stops it (SIGTERM, SIGKILL after stop_timeout). With several instances (instances, service scale) it replaces them in batches of max_surge. If the new version never gets ready it is stopped and the current one keeps serving. With --rollback the new version runs the previous version's command, env and cwd instead (or those of --to VERSION; see proxyctl service history). Without --wait the command returns at once with the deploy id; with --wait it prints each phase (ROLLOUT_LAUNCH_NEW, ROLLOUT_WAIT, READY) as the agent's deploy.phase events report it and exits 0 when the deploy succeeded, 1 when it failed. A deploy while another operation runs on the service is refused (PXC_ERR_DEPLOY_IN_PROGRESS).

With --fleet the agent you talk to coordinates a fleet deploy: it takes the service's lock in etcd (a second fleet deploy of the service is refused with PXC_ERR_FLEET_DEPLOY_LOCKED while it is held), then asks the nodes running the service, --max-unavailable at a time in node-name order, to run this same rolling deploy each, and stops at the first node whose deploy fails, naming it. The coordinator is the agent rather than this command, so the rollout goes on without it (follow it with --wait or fleet status), and the lock lives under the agent's lease: an agent killed mid-rollout frees it within cluster.lease_ttl seconds.`;

  static override enableJsonFlag = true;
  static override examples = [
    '<%= config.bin %> deploy notes',
    '<%= config.bin %> deploy notes --wait',
    '<%= config.bin %> deploy notes --rollback --wait',
    '<%= config.bin %> deploy notes --rollback --to 3',
    '<%= config.bin %> deploy notes --wait --json',
    '<%= config.bin %> deploy notes --fleet --wait',
    '<%= config.bin %> deploy notes --fleet --max-unavailable 2',
  ];

  static override args = {
    service: Args.string({ description: 'service name (see proxyctl service list)', required: true }),
  };

  static override flags = {
    wait: Flags.boolean({ char: 'w', description: 'follow the deploy to its end; exit 0 when it succeeded, 1 when it failed' }),
    'wait-timeout': Flags.integer({ description: 'with --wait, give up (exit 1) after this many seconds; the deploy goes on', default: 3600, min: 1 }),
    rollback: Flags.boolean({ description: "deploy the previous version's command/env/cwd as a new version", exclusive: ['fleet'] }),
    to: Flags.integer({ description: 'with --rollback, the version to go back to (default: the previous one)', min: 1, dependsOn: ['rollback'] }),
    fleet: Flags.boolean({ description: 'deploy on every node of the fleet running the service, node by node (the agent must be in a fleet)' }),
    'max-unavailable': Flags.integer({ description: 'with --fleet, nodes deploying at once', default: 1, min: 1 }),
    'node-timeout': Flags.integer({ description: 'with --fleet, a node that has not finished its deploy after this many seconds stops the rollout', default: 600, min: 1 }),
  };

  async run(): Promise<DeployStarted | DeployRecord | RolloutRecord> {
    const { args, flags } = await this.parse(Deploy);
    const socket = this.socketPath(flags);
    if (flags.fleet) return this.fleetDeploy(socket, args.service, flags);
    const what = flags.rollback ? 'rollback' : 'deploy';
    const start = (client: ControlClient): Promise<DeployStarted> =>
      flags.rollback ? client.call('service.rollback', { service: args.service, ...(flags.to ? { version: flags.to } : {}) }) : client.call('service.deploy', { service: args.service });
    if (!flags.wait) {
      const d = await this.withClient(socket, (client) => start(client));
      this.log(changed(`${what} ${d.id} of ${d.service}`, `started, ${describeChange(d)} (${d.state}); follow with 'proxyctl service info ${d.service}'`));
      return d;
    }
    const record = await this.withClient(socket, (client) =>
      followOperation(
        client,
        async () => {
          const started = await start(client);
          this.log(`${what} ${started.id} of ${started.service}: ${describeChange(started)}`);
          return started;
        },
        { timeoutMs: flags['wait-timeout'] * 1000, onPhase: (p) => this.log(`${p.at}  ${p.state}${p.batch ? ` (batch ${p.batch})` : ''}`) },
      ),
    );
    if (record.result === 'failed') throw new ProxyctlError('PXC_ERR_DEPLOY_FAILED', `${what} ${record.id} of ${record.service} failed: ${record.error}`);
    this.log(changed(`${what} ${record.id} of ${record.service}`, `succeeded, ${record.service} v${record.version} is current`));
    return record;
  }

  async fleetDeploy(socket: string, service: string, flags: { wait: boolean; 'wait-timeout': number; 'max-unavailable': number; 'node-timeout': number }): Promise<RolloutRecord> {
    const params = { service, max_unavailable: flags['max-unavailable'], node_timeout: flags['node-timeout'] };
    if (!flags.wait) {
      const r = await this.call(socket, 'fleet.deploy', params);
      this.log(changed(`fleet deploy ${r.id} of ${service}`, `started on ${r.nodes.map((n) => n.node).join(', ')} (coordinator ${r.coordinator}); follow with 'proxyctl fleet status'`));
      return r;
    }
    const record = await this.withClient(socket, async (client) => {
      const started = await client.call('fleet.deploy', params);
      this.log(`fleet deploy ${started.id} of ${service}: ${started.nodes.map((n) => n.node).join(', ')}, ${started.max_unavailable} at a time`);
      const shown = new Map<string, string>();
      const deadline = Date.now() + flags['wait-timeout'] * 1000;
      for (;;) {
        const r = await client.call('fleet.rollout', { service });
        if (!r || r.id !== started.id) throw new ProxyctlError('PXC_ERR_INTERNAL', `fleet deploy ${started.id} is no longer the newest of ${service}`);
        for (const n of r.nodes) {
          const line = `${n.node}: ${n.state}${n.version === null ? '' : ` v${n.from_version ?? '-'} -> v${n.version}`}${n.error ? ` (${n.error})` : ''}`;
          if (shown.get(n.node) !== line && n.state !== 'waiting') this.log(`${n.at ?? ''}  ${line}`);
          shown.set(n.node, line);
        }
        if (r.state !== 'running') return r;
        if (Date.now() > deadline) this.fail(`fleet deploy ${r.id} still running after ${flags['wait-timeout']} s; it goes on in the coordinator`);
        await new Promise((res) => setTimeout(res, 200));
      }
    });
    if (record.state === 'failed') throw new ProxyctlError('PXC_ERR_FLEET_DEPLOY_FAILED', `fleet deploy ${record.id} of ${service} failed: ${record.error}`);
    this.log(renderRollout(record));
    return record;
  }
}
