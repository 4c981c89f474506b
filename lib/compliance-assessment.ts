import { Duration } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { ScanWorkflow, type ScanWorkflowProps } from './scan-workflow.js';
import { acknowledgeWorkflowFindings, lambdaTask } from './workflow-common.js';

/** Props of {@link ComplianceAssessment}. */
export interface ComplianceAssessmentProps {
  /** The scan's functions, and record-compliance for the last step. */
  readonly functions: ScanWorkflowProps['functions'] & {
    readonly recordCompliance: lambda.IFunction;
  };
  /** Where the state machine logs. */
  readonly logGroup: logs.ILogGroup;
  /** The artifacts bucket, whose node lists the scan's group map reads (ScanWorkflow). */
  readonly artifactsBucket: s3.IBucket;
  /** Nodes searched at once. @default 10 (ScanWorkflow's default) */
  readonly maxConcurrency?: number;
}

/**
 * Compliance between runs (issue 13, item 8; Patch Manager's patch state, Azure Update Manager's
 * periodic assessment): a read-only assessment of a target. The scan workflow (ScanWorkflow,
 * the same construct POST /scans runs: ScanUpdates on every node, installing, draining and
 * restarting nothing) followed by record-compliance, which judges every node from its scan
 * result, its install ledger and its last run, records it next to the previous assessment, and
 * publishes `Node Compliance Changed` for each node that fell out of compliance or came back.
 *
 * Input: a rollout input, as a scan takes it (its target and plug-ins say what to search for);
 * the execution name is the assessment id and the scan id. Started by a schedule of kind
 * `assessment` (lib/rollout-schedules.ts) or by hand.
 */
export class ComplianceAssessment extends Construct {
  public readonly stateMachine: sfn.StateMachine;

  constructor(scope: Construct, id: string, props: ComplianceAssessmentProps) {
    super(scope, id);
    const record = (inner: Construct) => {
      const task = lambdaTask(
        inner,
        'RecordCompliance',
        props.functions.recordCompliance,
        {
          assessmentId: sfn.JsonPath.stringAt('$$.Execution.Name'),
          target: sfn.JsonPath.stringAt('$$.Execution.Input.target.name'),
          scanId: sfn.JsonPath.stringAt('$.scanId'),
          nodes: sfn.JsonPath.listAt('$.nodes'),
          assessedAt: sfn.JsonPath.stringAt('$$.Execution.StartTime'),
        },
        '$',
      );
      // Another assessment recorded a node meanwhile: judge it again against that one.
      task.addRetry({
        errors: ['ComplianceConflict'],
        interval: Duration.seconds(1),
        maxAttempts: 3,
        backoffRate: 2,
        jitterStrategy: sfn.JitterType.FULL,
      });
      return task;
    };
    const scan = new ScanWorkflow(this, 'Scan', {
      functions: props.functions,
      logGroup: props.logGroup,
      artifactsBucket: props.artifactsBucket,
      ...(props.maxConcurrency === undefined ? {} : { maxConcurrency: props.maxConcurrency }),
      afterScan: record,
    });
    this.stateMachine = scan.stateMachine;
    acknowledgeWorkflowFindings(this.stateMachine, [props.functions.recordCompliance]);
  }
}
