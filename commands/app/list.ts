import { ClientCommand } from '../../src/cli/client-command.js';
import type { AppSummary } from '../../src/forward/commands.js';
import { renderAppList } from '../../src/ui/render/app.js';

export default class AppList extends ClientCommand {
  static override summary = 'List the app proxies: protocol, ports, targets up/total, active connections, request rate';
  static override description =
    'targets up counts enabled targets whose last health check passed; "(N unknown)" counts targets without a check result yet, which take traffic meanwhile (as HAProxy does). req/s is the Foo REQ rate over the last second (foo apps only).';
  static override enableJsonFlag = true;
  static override examples = ['<%= config.bin %> app list', '<%= config.bin %> app list --json'];

  async run(): Promise<AppSummary[]> {
    const { flags } = await this.parse(AppList);
    const apps = await this.call(this.socketPath(flags), 'app.list', {});
    this.log(renderAppList(apps));
    return apps;
  }
}
