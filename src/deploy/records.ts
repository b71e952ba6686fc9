/** What a service operation leaves behind: its record, in service info, service history and state.db. */

export type DeployState = 'INITIAL' | 'ROLLOUT_LAUNCH_NEW' | 'ROLLOUT_WAIT' | 'READY' | 'SCALING' | 'STOPPING' | 'STOPPED';

/** deploy: a new version from the config; rollback: a new version with an earlier one's command/env; restart: the same version, rolled; start: launches what is missing (agent start, service start); scale; stop. */
export type OperationKind = 'deploy' | 'rollback' | 'restart' | 'start' | 'scale' | 'stop';

export interface DeployPhase {
  state: DeployState;
  /** ISO 8601. */
  at: string;
  /** Of a rolling operation in batches of max_surge: "2/3". */
  batch?: string;
}

export interface DeployRecord {
  /** Per service, from 1; goes on across agent restarts. */
  id: number;
  service: string;
  kind: OperationKind;
  /** The version it launches (or the current one: scale, stop). */
  version: number;
  /** The version serving when it started, if any. */
  from_version: number | null;
  /** Instances it aims at (scale: the new count). */
  instances: number;
  result: 'running' | 'succeeded' | 'failed';
  /** Every state the operation passed through, in order. */
  phases: DeployPhase[];
  started_at: string;
  finished_at: string | null;
  error: string | null;
}
