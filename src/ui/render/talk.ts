import type { Methods } from '../../control/methods.js';
import type { TalkRenderers } from '../../control/registry.js';
import { renderAppInfo, renderAppList, renderAppReset, renderSessions, renderStatsTable } from './app.js';
import { renderHealth, renderProxyInfo, renderTimeoutInfo } from './proxy.js';
import { describeHistory, describeOperation, describeService, renderLogLine } from './services.js';
import { renderTargetChange } from './target.js';

/**
 * The talk replies laid out by the renderers the CLI uses too, by method.
 * Subsystems sit below src/ui and cannot import these: the agent's entry
 * point hands this table to the command registry (lazily: cli-table3 loads
 * into the agent only when a talk client first asks for one of them).
 * Commands not listed here render with their own `renderText` or the default.
 */
type ByMethod = { readonly [M in keyof Methods]?: (result: Methods[M]['result']) => string };

const byMethod = {
  'proxy.info': (r) => renderProxyInfo(r),
  'proxy.health': (r) => renderHealth(r),
  'timeout.info': renderTimeoutInfo,
  'timeout.set': renderTimeoutInfo,
  'app.list': renderAppList,
  'app.info': (r) => renderAppInfo(r),
  'app.sessions': (r) => renderSessions(r),
  'app.stats': (r) => r.csv?.trimEnd() ?? renderStatsTable(r.rows),
  'app.reset': renderAppReset,
  'target.add': renderTargetChange,
  'target.remove': renderTargetChange,
  'target.weight': renderTargetChange,
  'target.drain': renderTargetChange,
  'target.enable': renderTargetChange,
  'target.disable': renderTargetChange,
  'service.deploy': describeOperation,
  'service.rollback': describeOperation,
  'service.restart': describeOperation,
  'service.start': describeOperation,
  'service.stop': describeOperation,
  'service.scale': describeOperation,
  'service.info': describeService,
  'service.history': describeHistory,
  'service.logs': (logs) => (logs.lines.length === 0 ? '(no output yet)' : logs.lines.map((l) => renderLogLine(logs.service, l)).join('\n')),
} satisfies ByMethod;

export const talkRenderers: TalkRenderers = byMethod as TalkRenderers;
