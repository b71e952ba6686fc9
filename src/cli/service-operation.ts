import { Args, Flags } from '@oclif/core';
import type { ControlClient } from '../control/client.js';
import type { DeployStarted } from '../deploy/commands.js';
import type { DeployRecord } from '../deploy/controller.js';
import { ProxyctlError } from '../errors.js';
import { changed } from '../ui/outcome.js';
import { describeChange } from '../ui/render/services.js';
import { ClientCommand } from './client-command.js';
import { followOperation } from './follow-operation.js';

/** The SERVICE argument of the operations (each command declares its own args: oclif copies only own statics). */
export const serviceArgs = {
  service: Args.string({ description: 'service name (see proxyctl service list)', required: true }),
};

export const operationFlags = {
  wait: Flags.boolean({ description: 'follow the operation to its end (--no-wait: return at once with its id)', default: true, allowNo: true }),
  'wait-timeout': Flags.integer({ description: 'give up waiting (exit 1) after this many seconds; the operation goes on', default: 3600, min: 1 }),
};

/**
 * `service restart|start|stop|scale`: start the operation and, unless
 * --no-wait, follow its phases (deploy.phase events) to its end, as pm2's
 * commands return once done. Exit 0 when it succeeded, 1 when it failed.
 */
export abstract class ServiceOperationCommand extends ClientCommand {
  static override enableJsonFlag = true;

  /** Runs `start` and follows it (or not), printing one line per phase and a last line. */
  protected async operate(socket: string, flags: { wait: boolean; 'wait-timeout': number }, start: (client: ControlClient) => Promise<DeployStarted>): Promise<DeployStarted | DeployRecord> {
    if (!flags.wait) {
      const d = await this.withClient(socket, start);
      this.log(changed(`${d.kind} ${d.id} of ${d.service}`, `started, ${describeChange(d)} (${d.state})`));
      return d;
    }
    const record = await this.withClient(socket, (client) =>
      followOperation(
        client,
        async () => {
          const d = await start(client);
          this.log(`${d.kind} ${d.id} of ${d.service}: ${describeChange(d)}`);
          return d;
        },
        { timeoutMs: flags['wait-timeout'] * 1000, onPhase: (p) => this.log(`${p.at}  ${p.state}${p.batch ? ` (batch ${p.batch})` : ''}`) },
      ),
    );
    if (record.result === 'failed') throw new ProxyctlError('PXC_ERR_DEPLOY_FAILED', `${record.kind} ${record.id} of ${record.service} failed: ${record.error}`);
    this.log(changed(`${record.kind} ${record.id} of ${record.service}`, 'succeeded'));
    return record;
  }
}
