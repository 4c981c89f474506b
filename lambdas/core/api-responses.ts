/**
 * The change-management API's responses as zod schemas: what the OpenAPI document publishes
 * (api-openapi.ts), what the CLI and the tests parse answers with, and the types of the views
 * api-model.ts builds. Apart from api-model.ts because zod builds schemas at load, which esbuild
 * must keep: the API handler imports only the types, so its bundle carries none of this
 * (issue 11, point 4; test/handlers/api-bundle.test.ts).
 *
 * Pure: no AWS SDK, no I/O.
 */
import * as z from 'zod';
import {
  ERROR_CODES,
  NODE_PROGRESS,
  SCAN_STATUSES,
  STAGING_STATUSES,
  STEP_PHASES,
} from './api-model.js';
import { COMPLIANCE_STATES } from './compliance.js';
import { NODE_STEPS, RUN_STATUSES } from './contracts.js';
import { EXIT_OUTCOMES, type ExitOutcome } from './exit-codes.js';
import { STILL_APPLICABLE_REASONS } from './rescan.js';
import { scanNodeResultSchema } from './scan-result.js';

const timestamp = z.string().describe('ISO 8601 date and time');
const changeTicketOut = z
  .object({ system: z.string(), id: z.string(), url: z.string().optional() })
  .describe('The change ticket the rollout was requested under');
const targetOut = z.object({
  name: z.string(),
  kind: z.enum(['cluster', 'group']).nullable(),
});

export const errorBodySchema = z
  .object({
    error: z.object({
      code: z
        .string()
        .describe(
          `One of ${Object.keys(ERROR_CODES).join(', ')}; or, for errors API Gateway answers itself (signature, throttling), its response type, e.g. ACCESS_DENIED, MISSING_AUTHENTICATION_TOKEN, THROTTLED`,
        ),
      message: z.string().describe('What is wrong and what would be accepted'),
      field: z
        .string()
        .optional()
        .describe('The field, parameter or header at fault, e.g. target.nodes[2].instanceId'),
      value: z.unknown().optional().describe('The value as sent (long values cut)'),
      problems: z
        .array(z.object({ field: z.string(), value: z.unknown().optional(), message: z.string() }))
        .optional()
        .describe('Every problem, when there are several'),
      details: z
        .record(z.string(), z.unknown())
        .optional()
        .describe('Facts to act on, e.g. activeRolloutId of a 409 TargetBusy'),
      requestId: z.string().optional(),
    }),
  })
  .meta({ title: 'Error', description: 'Every 4xx and 5xx response' });

export const rolloutAcceptedSchema = z
  .object({
    rolloutId: z.string().describe('The rollout (run) id; also the execution name'),
    executionArn: z.string(),
    status: z.enum(RUN_STATUSES),
    idempotencyKey: z
      .string()
      .nullable()
      .describe('The key the request is remembered under for 24 hours, or null'),
  })
  .meta({ title: 'RolloutAccepted' });

// ---------------------------------------------------------------------------------------------
// Staging (issue 13 item 5): POST /stagings and GET /stagings/{id}

export const stagingAcceptedSchema = z
  .object({
    stagingId: z.string().describe('The staging run id; also the execution name'),
    executionArn: z.string(),
    status: z.enum(STAGING_STATUSES),
    idempotencyKey: z
      .string()
      .nullable()
      .describe('The key the request is remembered under for 24 hours, or null'),
  })
  .meta({ title: 'StagingAccepted' });

const stagedNodeSchema = z.object({
  node: z.string(),
  status: z.enum(['Staged', 'Partial', 'Failed', 'NothingToStage']),
  files: z.number().int().describe('Hotfix files in the cache after this run'),
  bytes: z.number().int(),
  digestsVerified: z.number().int().describe('Files whose SHA-256 the node checked'),
  cacheHits: z.number().int().describe('Files already in the cache: nothing downloaded'),
  windowsUpdates: z.number().int().describe('Windows updates downloaded by WUA'),
  problems: z.array(z.string()).describe('Files or updates not in the cache, each with why'),
  stagedDigests: z
    .array(z.string())
    .describe('The SHA-256 of every cached file: what the install run may take from the cache'),
  stagedAt: z.string(),
});

export const stagingStatusSchema = z
  .object({
    stagingId: z.string(),
    executionArn: z.string().nullable().describe('Null once Step Functions forgot the execution'),
    status: z
      .enum([...STAGING_STATUSES, 'Unknown'])
      .describe('Unknown: the execution is past Step Functions history; the records stand'),
    startedAt: z.string().nullable(),
    stoppedAt: z.string().nullable(),
    counts: z
      .record(z.string(), z.number().int())
      .describe('Nodes recorded so far, by staging status'),
    nodes: z.array(stagedNodeSchema).describe('Each node staged so far, in node-key order'),
  })
  .meta({ title: 'StagingStatus' });

/** A node's staging record as the run store holds it. */
export type StagedNodeRecord = {
  readonly [K in keyof z.input<typeof stagedNodeSchema>]: Readonly<
    z.input<typeof stagedNodeSchema>[K]
  >;
};

/** A staging run as GET /stagings/{id} shows it. */
export type StagingStatusView = z.output<typeof stagingStatusSchema>;

export const rolloutStatusSchema = z
  .object({
    rolloutId: z.string(),
    target: targetOut.nullable().describe('null while the run is not recorded yet'),
    status: z
      .enum([...RUN_STATUSES, 'Pending'])
      .describe('Pending: the execution started and has not recorded the run yet'),
    reason: z.string().nullable(),
    execution: z
      .object({
        arn: z.string(),
        status: z.string().describe('Step Functions: RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ...'),
        startDate: timestamp.nullable(),
        stopDate: timestamp.nullable(),
      })
      .nullable(),
    startedAt: timestamp.nullable(),
    finishedAt: timestamp.nullable(),
    stopAt: timestamp.nullable(),
    changeTicket: changeTicketOut.nullable(),
    requestedBy: z.string().nullable(),
    cancelRequested: z.boolean(),
    approval: z
      .object({
        afterNodes: z.number().int(),
        timeoutMinutes: z.number().int(),
        requestedAt: timestamp,
        decideBy: timestamp,
        waitingFor: z
          .string()
          .describe('What the rollout waits at, in words: the pilot, a phase or a health gate'),
      })
      .nullable()
      .describe('The approval gate the rollout waits at, or null'),
    currentStep: z
      .object({
        phase: z.enum(STEP_PHASES),
        nodes: z.array(z.string()).describe('The nodes being (or about to be) updated'),
        nodesOmitted: z.number().int(),
        description: z.string(),
      })
      .describe(
        "From the run store: which nodes have finished. The step within a node (drain, install, restart) is in the node workflow's execution history, which this does not read",
      ),
    progress: z.object({
      total: z.number().int(),
      finished: z.number().int(),
      succeeded: z.number().int(),
      failed: z.number().int(),
      nothingToInstall: z.number().int(),
      skipped: z.number().int(),
      installedPendingReboot: z.number().int(),
      pending: z.number().int(),
    }),
    nodes: z.array(
      z.object({
        name: z.string(),
        status: z.enum(NODE_PROGRESS),
        startedAt: timestamp.optional(),
        finishedAt: timestamp.optional(),
        attempts: z.number().int().optional(),
        restarts: z.number().int().optional(),
        drained: z.boolean().optional(),
        detail: z.string().optional(),
      }),
    ),
  })
  .meta({ title: 'RolloutStatus' });
export type RolloutStatusView = z.output<typeof rolloutStatusSchema>;

export const rolloutSummarySchema = z.object({
  rolloutId: z.string(),
  target: targetOut,
  status: z.enum(RUN_STATUSES),
  reason: z.string().nullable(),
  startedAt: timestamp,
  finishedAt: timestamp.nullable(),
  nodes: z.number().int().describe('How many nodes the rollout updates'),
  changeTicket: changeTicketOut.nullable(),
  requestedBy: z.string().nullable(),
  cancelRequested: z.boolean(),
});

/** One line of the history (GET /rollouts). */
export type RolloutSummaryView = z.output<typeof rolloutSummarySchema>;

export const rolloutPageSchema = z
  .object({
    target: z.string(),
    rollouts: z.array(rolloutSummarySchema).describe('Newest first'),
    cursor: z
      .string()
      .nullable()
      .describe('Pass as ?cursor= for the next page; null on the last page'),
  })
  .meta({ title: 'RolloutPage' });

const reportUpdateSchema = z.object({
  plugin: z.string(),
  update: z.string(),
  attempt: z.number().int(),
  index: z.number().int(),
  outcome: z.enum(EXIT_OUTCOMES as [ExitOutcome, ...ExitOutcome[]]),
  exitCode: z.number().int().nullable(),
  exitCodeHex: z.string().nullable(),
  exitCodeName: z
    .string()
    .optional()
    .describe('The documented name of the exit code (ERROR_SUCCESS_REBOOT_REQUIRED), when known'),
  rebootRequired: z.boolean(),
  rebootInitiated: z.boolean(),
  durationSeconds: z.number(),
  detail: z.string().optional(),
  startedAt: timestamp.optional().describe('When the update started (UTC)'),
  finishedAt: timestamp.optional().describe('When the update ended (UTC)'),
  excludedBy: z
    .string()
    .optional()
    .describe(
      "Not installed: the rollout's updateSelection rule that left it out (outcome NotApplicable)",
    ),
});

const reportNodeSchema = z.object({
  name: z.string(),
  status: z.string(),
  detail: z.string().optional(),
  startedAt: timestamp.optional(),
  finishedAt: timestamp.optional(),
  drained: z.boolean(),
  resumed: z
    .boolean()
    .optional()
    .describe('The node was drained and brought back (false: not drained, or left Paused)'),
  failedStep: z
    .string()
    .optional()
    .describe('Where a failed node stopped: drain, pre-update script, install, restart, ...'),
  restarts: z.number().int(),
  attempts: z.number().int(),
  scripts: z
    .array(
      z.object({
        phase: z.enum(['pre', 'post']),
        status: z.string().describe('SSM: Success, Failed, TimedOut, ...'),
        exitCode: z.number().int().describe('-1 when the script never ran'),
        outputTail: z.string(),
        completedAt: timestamp,
      }),
    )
    .optional()
    .describe('The pre- and post-update scripts run on the node, in order'),
  updates: z.array(reportUpdateSchema),
  stillApplicable: z
    .array(
      z.object({
        kb: z.string().nullable(),
        title: z.string(),
        source: z.enum(['Hotfix', 'WindowsUpdate']),
        reason: z.enum(STILL_APPLICABLE_REASONS),
        detail: z.string(),
      }),
    )
    .optional()
    .describe(
      'What the rescan after the final restart found still applicable, and why; absent when the node was not rescanned. It does not fail the node.',
    ),
  rescanError: z.string().optional().describe("The rescan's Windows Update search failed"),
  ledger: z.array(
    z.object({
      sequence: z.number().int(),
      updateId: z.string(),
      installedAt: timestamp,
      hotpatched: z.boolean(),
    }),
  ),
});

export const runReportSchema = z
  .object({
    runId: z.string(),
    target: z.string(),
    targetKind: z.string().optional(),
    status: z.string(),
    reason: z.string().optional(),
    startedAt: timestamp.optional(),
    finishedAt: timestamp.optional(),
    makespanSeconds: z.number().optional(),
    lockReleased: z.boolean(),
    changeTicket: changeTicketOut.nullable(),
    requestedBy: z.string().nullable(),
    notices: z
      .array(z.string())
      .optional()
      .describe(
        'What happened to the run as a whole, one line each: WarnAfter passed, the lock broken by ForceRecovery',
      ),
    order: z
      .string()
      .optional()
      .describe(
        'How a cluster run without policy.nodeOrder ordered its nodes: computed, fewest clustered roles first, with the counts; or as given and why',
      ),
    phases: z
      .array(
        z.object({
          index: z.number().int().min(0),
          name: z.string(),
          nodes: z.array(z.string()),
          failed: z.array(z.string()),
          failuresAllowed: z.number().int().min(0),
          passed: z.boolean(),
          advance: z.enum(['bake', 'approval', 'none']),
          reason: z.string(),
          judgedAt: timestamp,
        }),
      )
      .optional()
      .describe(
        'Phases that advance themselves (issue 13, item 4): each phase judged so far, in order, with its criteria and verdict',
      ),
    page: z
      .object({
        nodesTotal: z.number().int().min(0).describe('The nodes of the whole report'),
        start: z
          .number()
          .int()
          .min(0)
          .describe("The index, in report order from 0, of this page's first node"),
        nextCursor: z
          .string()
          .nullable()
          .describe(
            'Pass as ?cursor= for the next page (also in the Link header, rel="next"); null on the last page',
          ),
      })
      .optional()
      .describe(
        "Which nodes this answer holds: the API pages a report by ?limit=, and answers the first page that fits when the whole report would pass Lambda's 6 MB response limit. Present on every API answer",
      ),
    nodes: z.array(reportNodeSchema).describe('In report order: this page of them'),
  })
  .meta({
    title: 'RunReport',
    description:
      "Like CAU's Get-CauReport -Detailed: per node, per update, the outcome, exit code, restart and duration",
  });
export type RunReportView = z.output<typeof runReportSchema>;

export const cancelAcceptedSchema = z
  .object({
    rolloutId: z.string(),
    status: z.enum(RUN_STATUSES),
    cancelRequested: z.literal(true),
    cancelRequestedAt: timestamp,
    approvalCancelled: z
      .boolean()
      .describe('The rollout was waiting at its approval gate and now stops there'),
    message: z.string(),
  })
  .meta({ title: 'CancelAccepted' });

export const forceRecoveryAcceptedSchema = z
  .object({
    target: z.string().describe('The cluster or group whose lock was broken'),
    recovered: z.literal(true),
    rolloutId: z.string().describe('The rollout that held the lock'),
    executionArn: z.string().nullable().describe("The holder's execution, when the lock named one"),
    executionStatus: z
      .string()
      .describe(
        'What Step Functions said of it (FAILED, ABORTED, ..., NOT_FOUND), or LEASE_EXPIRED',
      ),
    recoveredAt: timestamp,
    recoveredBy: z.string(),
    reason: z.string(),
    runMarkedFailed: z
      .boolean()
      .describe('The run was still recorded Running; it is now Failed with the reason'),
  })
  .meta({ title: 'ForceRecoveryAccepted' });

export const decisionAcceptedSchema = z
  .object({
    rolloutId: z.string(),
    decision: z.enum(['approved', 'rejected']),
    decidedAt: timestamp,
    decidedBy: z.string().describe('The IAM caller'),
    approvedBy: z.string().nullable(),
    comment: z.string().nullable(),
    cancelRequested: z
      .boolean()
      .describe('A cancel was requested too: the rollout ends Cancelled whatever the decision'),
    message: z.string().describe('What will happen now'),
  })
  .meta({ title: 'DecisionAccepted' });

export const scanResultSchema = z
  .looseObject({
    runId: z.string(),
    scannedAt: timestamp,
    nodes: z.array(
      z.looseObject({
        name: z.string(),
        instanceId: z.string(),
        online: z.boolean(),
        pingStatus: z.string().nullable(),
        hotfixUpdates: z.number().int(),
        files: z.array(z.string()),
        filesOmitted: z.number().int(),
        hotpatchCandidates: z
          .number()
          .int()
          .describe(
            'planned hotfixes whose package can install as a hotpatch (hotpatch-manifest.json)',
          ),
        restartExpected: z
          .boolean()
          .describe(
            'a restart is expected: an update cannot hotpatch by its package facts, or Windows Update runs; the node inventory decides at run time',
          ),
      }),
    ),
    warnings: z.array(z.string()),
    nodeOrder: z.array(z.string()),
    windowsUpdate: z
      .looseObject({
        queryString: z.string(),
        includeRecommendedUpdates: z.boolean(),
        selection: z
          .record(z.string(), z.unknown())
          .nullable()
          .optional()
          .describe("the rollout's updateSelection, which each node applies to its search"),
        note: z.string().optional(),
      })
      .nullable()
      .optional()
      .describe('what Windows Update will be asked for; null without the Windows Update plug-in'),
    excluded: z
      .array(z.object({ file: z.string(), rule: z.string(), reason: z.string() }))
      .optional()
      .describe("hotfix files the rollout's updateSelection leaves out, with the rule"),
    excludedOmitted: z.number().int().optional(),
  })
  .meta({
    title: 'ScanResult',
    description:
      "CAU's Invoke-CauScan: per node, the updates the hotfix plug-in would install, how many can hotpatch, whether a restart is expected, and whether the node is online; the Windows Update query. Installs nothing",
  });

export const nodeProgressSchema = z
  .object({
    rolloutId: z.string(),
    node: z.string(),
    executionArn: z.string(),
    status: z.enum(['Running', 'Succeeded', 'Failed', 'Aborted', 'TimedOut']),
    state: z.string().nullable().describe('The node-workflow state entered last'),
    enteredAt: timestamp.nullable(),
    step: z.enum(NODE_STEPS).nullable(),
    plugin: z
      .object({ index: z.number().int(), count: z.number().int(), name: z.string().nullable() })
      .nullable()
      .describe('The plug-in being installed, i of n (from 1)'),
    updatesPlanned: z.number().int().nullable(),
    restarts: z.number().int().nullable(),
    summary: z.string().describe('One line for a person'),
  })
  .meta({
    title: 'NodeProgress',
    description:
      "Where a node is inside its update, read from its node-workflow execution's history (newest events first): the step, the plug-in i of n, the updates planned, the restarts so far",
  });

// -- The scan workflow (issue 12, point 4): POST /scans starts it, GET /scans/{id} reads it. ----

export const scanAcceptedSchema = z
  .object({
    scanId: z.string().describe('The scan id; also the execution name'),
    executionArn: z.string(),
    status: z.literal('Running'),
  })
  .meta({ title: 'ScanAccepted' });

export const scanViewSchema = z
  .object({
    scanId: z.string(),
    status: z.enum(SCAN_STATUSES),
    startedAt: timestamp,
    stoppedAt: timestamp.nullable(),
    error: z
      .object({ code: z.string(), message: z.string() })
      .nullable()
      .describe('Why the scan failed (the input, the target, NodesOffline, the hotfix root)'),
    plan: scanResultSchema
      .nullable()
      .describe("The hotfix plan and the nodes' SSM status; null until the scan ended"),
    nodes: z
      .array(scanNodeResultSchema)
      .describe(
        'Per node, in update order: each update that would install (KB, title, classification, severity, restart expected and why, hotpatch candidate and why) and each found update left out, with the rule (lambdas/core/scan-result.ts). Empty until the scan ended',
      ),
    nodesMissing: z
      .array(z.string())
      .describe('Nodes of a finished scan whose result could not be read'),
  })
  .meta({
    title: 'ScanView',
    description:
      "CAU's Invoke-CauScan: a scan started by POST /scans, its status and, once it ended, what each node would install. Installs nothing, drains nothing, restarts nothing",
  });

const ledgerEntrySchema = z.object({
  node: z.string(),
  sequence: z.number().int(),
  updateId: z.string(),
  installedAt: timestamp,
  runId: z.string().optional(),
  hotpatched: z.boolean(),
  replacedFiles: z.array(
    z.object({
      path: z.string(),
      versionBefore: z.string().optional(),
      versionAfter: z.string().optional(),
    }),
  ),
  removedAt: timestamp.optional(),
  removedByRunId: z.string().optional(),
  installedPendingReboot: z
    .boolean()
    .optional()
    .describe('Installed by a run with rebootOption Never that left the node needing a restart'),
});

export const ledgerResponseSchema = z
  .object({
    node: z.string(),
    entries: z
      .array(ledgerEntrySchema)
      .describe('Every install, removed ones too, in install order'),
    installed: z.array(z.string()).describe('The updates installed now, in install order'),
    removalOrder: z
      .array(z.string())
      .describe('The order to remove them all in: reverse install order'),
  })
  .meta({ title: 'Ledger' });

const removalWarningSchema = z
  .object({
    updateId: z.string(),
    laterUpdatesSharingFiles: z.array(
      z.object({ updateId: z.string(), files: z.array(z.string()) }),
    ),
    installedSince: z.array(z.string()),
  })
  .describe('KB823836: removing updateId out of order; the later updates listed may break');

export const removalAcceptedSchema = z
  .object({
    node: z.string(),
    removalId: z.string(),
    executionArn: z.string().nullable(),
    order: z.array(z.string()).describe('Removal order: reverse install order'),
    addedDependents: z.array(z.string()),
    restartRequired: z.boolean().describe('Always true: removing an update needs a restart'),
    forced: z.boolean(),
    warnings: z.array(removalWarningSchema),
  })
  .meta({ title: 'RemovalAccepted' });

// ---------------------------------------------------------------------------------------------
// Compliance (issue 13, item 8): GET /compliance; the view is built by compliance-api.ts

const state = z.enum(COMPLIANCE_STATES);

const nodeComplianceSchema = z.object({
  node: z.string(),
  state: state.describe('Compliant, NonCompliant, or Unknown (the scan did not answer)'),
  reasons: z.array(z.string()).describe('Why NonCompliant or Unknown; empty when Compliant'),
  assessmentId: z.string(),
  assessedAt: z.string().describe('When this assessment judged the node (ISO 8601)'),
  previousState: state.nullable().describe('The state the assessment before found; null: none'),
  previousAssessedAt: z.string().nullable(),
  change: z
    .enum(['FellOut', 'CameBack'])
    .nullable()
    .describe('What changed from the last known state; null: nothing'),
  installed: z
    .array(
      z.object({
        kb: z.string(),
        installedAt: z.string(),
        runId: z.string().nullable().describe('The run that installed it'),
        hotpatched: z.boolean(),
        installedPendingReboot: z.boolean(),
      }),
    )
    .describe('Installed by our runs and not removed (the install ledger), in install order'),
  missing: z
    .array(
      z.object({
        kb: z.string().nullable(),
        title: z.string(),
        source: z.enum(['windowsUpdate', 'hotfix']),
      }),
    )
    .describe('Applicable, not excluded by the selection, not installed'),
  failed: z
    .array(
      z.object({
        update: z.string(),
        kb: z.string().nullable(),
        runId: z.string(),
        attempt: z.number().int(),
        exitCode: z.number().int().nullable(),
        detail: z.string().nullable(),
      }),
    )
    .describe("Updates whose last attempt in the node's last run failed"),
  pendingRestart: z.boolean().nullable().describe('A restart is pending; null: unknown'),
});

/** The response of GET /compliance. */
export const compliancePageSchema = z
  .object({
    target: z.string(),
    nodes: z
      .array(nodeComplianceSchema)
      .describe("The target's nodes ever assessed, a page at a time, in node-name order"),
    counts: z
      .object({
        Compliant: z.number().int().min(0),
        NonCompliant: z.number().int().min(0),
        Unknown: z.number().int().min(0),
      })
      .describe("This page's nodes in each state"),
    cursor: z.string().nullable().describe('Pass it back for the next page; null: the last page'),
  })
  .meta({ title: 'CompliancePage' });
/** A page of GET /compliance, as compliancePageView builds it. */
export type CompliancePageView = z.output<typeof compliancePageSchema>;
