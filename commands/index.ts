/**
 * Every command of the CLI, by id: oclif's "explicit" command discovery (package.json
 * oclif.commands) reads this object instead of globbing the directory. A command file that is
 * not listed here does not exist for the CLI (test/unit/cli/commands-index.test.ts checks both ways).
 * dist/cli.js (scripts/bundle-cli.js) serves the same list lazily: only the command that runs is loaded.
 */
import AgentLogs from './agent/logs.js';
import AgentReload from './agent/reload.js';
import AgentStart from './agent/start.js';
import AgentStatus from './agent/status.js';
import AgentStop from './agent/stop.js';
import AppInfoCommand from './app/info.js';
import AppList from './app/list.js';
import AppResetCommand from './app/reset.js';
import AppSessionsCommand from './app/sessions.js';
import AppStatsCommand from './app/stats.js';
import Dashboard from './dashboard.js';
import DataProxy from './data-proxy.js';
import Deploy from './deploy.js';
import DownloadAdd from './download/add.js';
import DownloadCancel from './download/cancel.js';
import DownloadInfo from './download/info.js';
import DownloadList from './download/list.js';
import DownloadPause from './download/pause.js';
import DownloadPurge from './download/purge.js';
import DownloadResume from './download/resume.js';
import DownloadRetry from './download/retry.js';
import DownloadWatch from './download/watch.js';
import Events from './events.js';
import FleetDiff from './fleet/diff.js';
import FleetEvents from './fleet/events.js';
import FleetGet from './fleet/get.js';
import FleetPush from './fleet/push.js';
import FleetStatusCommand from './fleet/status.js';
import NotesCreate from './notes/create.js';
import NotesDelete from './notes/delete.js';
import NotesGet from './notes/get.js';
import NotesList from './notes/list.js';
import NotesUpdate from './notes/update.js';
import Parameters from './parameters.js';
import ProxyFallback from './proxy/fallback.js';
import ProxyHealth from './proxy/health.js';
import ProxyInfoCommand from './proxy/info.js';
import ProxyPolicy from './proxy/policy.js';
import ProxyRebalance from './proxy/rebalance.js';
import ProxyReset from './proxy/reset.js';
import ProxyResetErrors from './proxy/reset-errors.js';
import ProxySet from './proxy/set.js';
import ProxySwitch from './proxy/switch.js';
import ServiceEndpoint from './service/endpoint.js';
import ServiceHistory from './service/history.js';
import ServiceInfoCommand from './service/info.js';
import ServiceList from './service/list.js';
import ServiceLogsCommand from './service/logs.js';
import ServiceRestart from './service/restart.js';
import ServiceScale from './service/scale.js';
import ServiceStart from './service/start.js';
import ServiceStop from './service/stop.js';
import Stats from './stats.js';
import Talk from './talk.js';
import TargetAdd from './target/add.js';
import TargetDisable from './target/disable.js';
import TargetDrain from './target/drain.js';
import TargetEnable from './target/enable.js';
import TargetRemove from './target/remove.js';
import TargetWeight from './target/weight.js';
import TimeoutInfoCommand from './timeout/info.js';
import TimeoutSet from './timeout/set.js';

export const COMMANDS = {
  'agent:logs': AgentLogs,
  'agent:reload': AgentReload,
  'agent:start': AgentStart,
  'agent:status': AgentStatus,
  'agent:stop': AgentStop,
  'app:info': AppInfoCommand,
  'app:list': AppList,
  'app:reset': AppResetCommand,
  'app:sessions': AppSessionsCommand,
  'app:stats': AppStatsCommand,
  'dashboard': Dashboard,
  'data-proxy': DataProxy,
  'deploy': Deploy,
  'download:add': DownloadAdd,
  'download:cancel': DownloadCancel,
  'download:info': DownloadInfo,
  'download:list': DownloadList,
  'download:pause': DownloadPause,
  'download:purge': DownloadPurge,
  'download:resume': DownloadResume,
  'download:retry': DownloadRetry,
  'download:watch': DownloadWatch,
  'events': Events,
  'fleet:diff': FleetDiff,
  'fleet:events': FleetEvents,
  'fleet:get': FleetGet,
  'fleet:push': FleetPush,
  'fleet:status': FleetStatusCommand,
  'notes:create': NotesCreate,
  'notes:delete': NotesDelete,
  'notes:get': NotesGet,
  'notes:list': NotesList,
  'notes:update': NotesUpdate,
  'parameters': Parameters,
  'proxy:fallback': ProxyFallback,
  'proxy:health': ProxyHealth,
  'proxy:info': ProxyInfoCommand,
  'proxy:policy': ProxyPolicy,
  'proxy:rebalance': ProxyRebalance,
  'proxy:reset': ProxyReset,
  'proxy:reset-errors': ProxyResetErrors,
  'proxy:set': ProxySet,
  'proxy:switch': ProxySwitch,
  'service:endpoint': ServiceEndpoint,
  'service:history': ServiceHistory,
  'service:info': ServiceInfoCommand,
  'service:list': ServiceList,
  'service:logs': ServiceLogsCommand,
  'service:restart': ServiceRestart,
  'service:scale': ServiceScale,
  'service:start': ServiceStart,
  'service:stop': ServiceStop,
  'stats': Stats,
  'talk': Talk,
  'target:add': TargetAdd,
  'target:disable': TargetDisable,
  'target:drain': TargetDrain,
  'target:enable': TargetEnable,
  'target:remove': TargetRemove,
  'target:weight': TargetWeight,
  'timeout:info': TimeoutInfoCommand,
  'timeout:set': TimeoutSet,
};
