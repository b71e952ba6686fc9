import { Args, Flags } from '@oclif/core';
import { ClientCommand } from '../../src/cli/client-command.js';
import { readFleetFile } from '../../src/cli/fleet-file.js';
import type { FleetPushResult } from '../../src/fleet/commands.js';

export default class FleetPush extends ClientCommand {
  static override summary = 'Validate a fleet file and make it the config of every node';
  static override description =
    'FILE is a config file holding only fleet-wide keys (proxy.http_proxy, proxy.fallback_proxy, proxy.policy, apps, services; see FLEET in proxyctl.conf(5)); a node-local key is refused by name. It is validated by the same checks as `agent reload`, then written in one etcd transaction that succeeds only if the fleet config did not change after the revision this push read (or --revision): a concurrent push fails with "fleet config changed since you read it" (PXC_ERR_FLEET_CONFLICT) and writes nothing. Sections absent from FILE are removed from the fleet (each node keeps its local file\'s). Every agent applies the new revision through its hot-reload path; one that cannot (e.g. a port its local file uses) keeps its running config and shows the error in `fleet status`.';
  static override enableJsonFlag = true;
  static override args = { file: Args.string({ description: 'the fleet file (JSON), or - for standard input', required: true }) };
  static override flags = {
    revision: Flags.integer({ description: 'write only if the fleet config is still at this revision (from fleet get or fleet diff)', min: 0 }),
  };
  static override examples = ['<%= config.bin %> fleet push fleet.json', '<%= config.bin %> fleet push fleet.json --revision 42', '<%= config.bin %> fleet get | jq \'.apps[0].ports = [8081]\' | <%= config.bin %> fleet push -'];

  async run(): Promise<FleetPushResult> {
    const { args, flags } = await this.parse(FleetPush);
    const { document, source } = await readFleetFile(args.file, (m) => this.fail(m));
    const r = await this.call(this.socketPath(flags), 'fleet.push', { document, source, ...(flags.revision === undefined ? {} : { revision: flags.revision }) });
    this.log(r.changed.length === 0 ? `fleet config unchanged (revision ${r.revision})` : `fleet config revision ${r.revision} (was ${r.previous_revision}): ${r.changed.join(', ')} changed`);
    return r;
  }
}
