/**
 * Which step of a node's update failed, from the error the node workflow failed with
 * (lib/node-workflow.ts `fail(...)`), as `Get-CauReport -Detailed` names the phase a node failed
 * in. The node result's `detail` starts with that error name (it may go on with the cause).
 */

/** Each error the node workflow fails with, and the step it failed at. */
export const FAILED_STEPS = {
  NodeOffline: 'preflight (the node is not online in SSM)',
  InventoryFailed: 'inventory (reading the node before the update)',
  InventoryTimedOut: 'inventory (timed out)',
  ClusterMemberInGroupTarget:
    'preflight (a failover-cluster member in a group target: refused, a group restarts undrained)',
  RestartPendingDrainFailed: 'drain before a pending restart',
  NodeDidNotRestartBeforeInstall: 'restart before the install (a restart was pending)',
  DrainFailed: 'drain (moving the roles off the node)',
  DrainTimedOut: 'drain (timed out)',
  PreUpdateScriptFailed: 'pre-update script',
  PreUpdateScriptTimedOut: 'pre-update script (timed out)',
  UpdateFailed: 'install',
  InstallTimedOut: 'install (timed out)',
  WindowsUpdateTimedOut: 'install by Windows Update (timed out)',
  RemovalTimedOut: 'removal (timed out)',
  VerifyTimedOut: 'verify after the install (timed out)',
  NodeDidNotRestartAfterPlugin: 'restart after the install',
  NodeDidNotRestartAfter1641: 'restart the installer started (exit 1641)',
  NodeDidNotRestartBeforeRetryHotfix: 'restart before retrying the hotfix install',
  NodeDidNotRestartBeforeRetryWindowsUpdate: 'restart before retrying Windows Update',
  NodeDidNotRestartFinal: 'final restart',
  RebootTimeout: 'restart (timed out)',
  ServicingBusyNotRestarted: 'restart (Windows servicing still busy; not restarted)',
  NodeDidNotAnswerAfterUpdate: 'restart (the node did not answer after it)',
  PostUpdateScriptFailed: 'post-update script',
  PostUpdateScriptTimedOut: 'post-update script (timed out)',
  ResumeFailed: 'resume (bringing the node back; it is left Paused)',
  ResumeTimedOut: 'resume (timed out)',
  NodeNotUpInCluster: 'resume after the restart (the node did not come back Up in the cluster)',
  RolesNotFailedBack: 'failback after the resume (its roles did not come back in time)',
} as const satisfies Record<string, string>;

export type NodeFailure = keyof typeof FAILED_STEPS;

const STEP_BY_NAME = new Map<string, string>(Object.entries(FAILED_STEPS));

/** The step a failed node stopped at, from its detail; undefined when the error is not one of them. */
export function failedStepOf(detail: string | undefined): string | undefined {
  if (detail === undefined) return undefined;
  const name = /^[A-Za-z][A-Za-z0-9]*/.exec(detail.trim());
  if (name === null) return undefined;
  return STEP_BY_NAME.get(name[0]);
}
