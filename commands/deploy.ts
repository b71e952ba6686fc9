import { Args, Flags } from '@oclif/core';
import { ClientCommand } from '../src/cli/client-command.js';
import type { DeployRecord } from '../src/deploy/controller.js';
import type { DeployStarted } from '../src/deploy/commands.js';
import { ProxyctlError } from '../src/errors.js';
import type { RolloutRecord } from '../src/fleet/rollout.js';
import { renderRollout } from '../src/fleet/render.js';

export default class Deploy extends ClientCommand {
  static override summary = 'Roll a service to a new version behind its app';
  static override description = `Launches version current+1 of the service, waits for its readiness probe, adds it to the app beside the current one (new connections go to either), and after the service's drain time takes the old one out and stops it (SIGTERM, SIGKILL after stop_timeout). If the new version never gets ready it is stopped and the current one keeps serving. Without --wait the command returns at once with the deploy id; with --wait it prints each phase (ROLLOUT_LAUNCH_NEW, ROLLOUT_WAIT, READY) as it passes and exits 0 when the deploy succeeded, 1 when it failed. A deploy while another runs for the same service is refused (PXC_ERR_DEPLOY_IN_PROGRESS).

With --fleet the agent you talk to coordinates a fleet deploy: it takes the service's lock in etcd (a second fleet deploy of the service is refused with PXC_ERR_FLEET_DEPLOY_LOCKED while it is held), then asks the nodes running the service, --max-unavailable at a time in node-name order, to run this same rolling deploy each, and stops at the first node whose deploy fails, naming it. The coordinator is the agent rather than this command, so the rollout goes on without it (follow it with --wait or fleet status), and the lock lives under the agent's lease: an agent killed mid-rollout frees it within cluster.lease_ttl seconds.`;

  static override enableJsonFlag = true;
  static override examples = ['<%= config.bin %> deploy notes', '<%= config.bin %> deploy notes --wait', '<%= config.bin %> deploy notes --wait --json', '<%= config.bin %> deploy notes --fleet --wait', '<%= config.bin %> deploy notes --fleet --max-unavailable 2'];

  static override args = {
    service: Args.string({ description: 'service name (see proxyctl service list)', required: true }),
  };

  static override flags = {
    wait: Flags.boolean({ char: 'w', description: 'follow the deploy to its end; exit 0 when it succeeded, 1 when it failed' }),
    'wait-timeout': Flags.integer({ description: 'with --wait, give up (exit 1) after this many seconds; the deploy goes on', default: 3600, min: 1 }),
    fleet: Flags.boolean({ description: 'deploy on every node of the fleet running the service, node by node (the agent must be in a fleet)' }),
    'max-unavailable': Flags.integer({ description: 'with --fleet, nodes deploying at once', default: 1, min: 1 }),
    'node-timeout': Flags.integer({ description: 'with --fleet, a node that has not finished its deploy after this many seconds stops the rollout', default: 600, min: 1 }),
  };

  async run(): Promise<DeployStarted | DeployRecord | RolloutRecord> {
    const { args, flags } = await this.parse(Deploy);
    const socket = this.socketPath(flags);
    if (flags.fleet) return this.fleetDeploy(socket, args.service, flags);
    if (!flags.wait) {
      const d = await this.call(socket, 'service.deploy', { service: args.service });
      this.log(`deploy ${d.id} of ${d.service} started: v${d.from_version ?? '-'} -> v${d.version} (${d.state}); follow with 'proxyctl service info ${d.service}'`);
      return d;
    }
    const record = await this.withClient(socket, async (client) => {
      const started = await client.call('service.deploy', { service: args.service });
      this.log(`deploy ${started.id} of ${started.service}: v${started.from_version ?? '-'} -> v${started.version}`);
      let shown = 0;
      const deadline = Date.now() + flags['wait-timeout'] * 1000;
      for (;;) {
        const info = await client.call('service.info', { service: args.service });
        const d = info.deploys.find((x) => x.id === started.id);
        if (!d) throw new ProxyctlError('PXC_ERR_INTERNAL', `deploy ${started.id} is no longer in the service's history`);
        for (; shown < d.phases.length; shown++) this.log(`${d.phases[shown]!.at}  ${d.phases[shown]!.state}`);
        if (d.result !== 'running') return d;
        if (Date.now() > deadline) this.fail(`deploy ${d.id} still running after ${flags['wait-timeout']} s (${info.state}); it goes on in the agent`);
        await new Promise((r) => setTimeout(r, 200));
      }
    });
    if (record.result === 'failed') throw new ProxyctlError('PXC_ERR_DEPLOY_FAILED', `deploy ${record.id} of ${record.service} failed: ${record.error}`);
    this.log(`deploy ${record.id} succeeded: ${record.service} v${record.version} is current`);
    return record;
  }

  async fleetDeploy(socket: string, service: string, flags: { wait: boolean; 'wait-timeout': number; 'max-unavailable': number; 'node-timeout': number }): Promise<RolloutRecord> {
    const params = { service, max_unavailable: flags['max-unavailable'], node_timeout: flags['node-timeout'] };
    if (!flags.wait) {
      const r = await this.call(socket, 'fleet.deploy', params);
      this.log(`fleet deploy ${r.id} of ${service} started on ${r.nodes.map((n) => n.node).join(', ')} (coordinator ${r.coordinator}); follow with 'proxyctl fleet status'`);
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
