import { ClientCommand } from '../../src/cli/client-command.js';
import type { FleetGetResult } from '../../src/fleet/commands.js';

export default class FleetGet extends ClientCommand {
  static override summary = 'Print the fleet config (proxy list, apps, services) as a fleet file';
  static override description =
    'Standard output gets the fleet documents as a fleet file, ready to edit and give back to `proxyctl fleet push`; standard error gets their revision and who wrote them. To push an edit only if nobody pushed in between, pass that revision: `proxyctl fleet push FILE --revision N`. Fails (PXC_ERR_FLEET_UNREACHABLE) while etcd does not answer.';
  static override enableJsonFlag = true;
  static override examples = ['<%= config.bin %> fleet get > fleet.json', '<%= config.bin %> fleet get --json'];

  async run(): Promise<FleetGetResult> {
    const { flags } = await this.parse(FleetGet);
    const r = await this.call(this.socketPath(flags), 'fleet.get', {});
    if (!this.jsonEnabled()) {
      process.stderr.write(`fleet config revision ${r.revision}${r.meta ? ` (${r.meta.what} by ${r.meta.by} at ${r.meta.at})` : ' (nothing pushed yet)'}\n`);
      this.log(JSON.stringify(r.document, null, 2));
    }
    return r;
  }
}
