import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';

/** What the dashboard shows: the control plane's workflows, queue and alarms. */
export interface RolloutDashboardProps {
  /** The dashboard's name. */
  readonly dashboardName: string;
  readonly rolloutWorkflow: sfn.IStateMachine;
  readonly nodeWorkflow: sfn.IStateMachine;
  readonly completionDeadLetters: sqs.IQueue;
  /** Shown in an alarm status widget at the top, each linked to its alarm. */
  readonly alarms: readonly cloudwatch.IAlarm[];
  /** The namespace the handlers publish to. @default 'WindowsRollout' */
  readonly namespace?: string;
  /** The `service` dimension of the handlers' metrics. @default 'windows-rollout' */
  readonly service?: string;
  /** The period of every graph. @default Duration.minutes(5) */
  readonly period?: Duration;
}

/** The command statuses SSM reports and complete-command counts (dimension `status`). */
export const COMMAND_STATUSES = ['Success', 'Failed', 'TimedOut', 'Cancelled'] as const;

/**
 * The operator's CloudWatch dashboard: alarms first, then rollouts started, succeeded and failed,
 * node updates (node workflow executions) succeeded and failed, time per node, SSM commands by
 * how they ended (timed out included), and dead-lettered completion events.
 */
export class RolloutDashboard extends Construct {
  public readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: RolloutDashboardProps) {
    super(scope, id);
    const period = props.period ?? Duration.minutes(5);
    const namespace = props.namespace ?? 'WindowsRollout';
    const service = props.service ?? 'windows-rollout';
    const count = (metricName: string, label: string, extra: Record<string, string> = {}) =>
      new cloudwatch.Metric({
        namespace,
        metricName,
        dimensionsMap: { service, ...extra },
        statistic: 'Sum',
        period,
        label,
      });
    const rollouts = props.rolloutWorkflow;
    const nodes = props.nodeWorkflow;
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: props.dashboardName,
      defaultInterval: Duration.days(7),
    });
    this.dashboard.addWidgets(
      new cloudwatch.AlarmStatusWidget({
        title: 'Alarms',
        alarms: [...props.alarms],
        width: 24,
        height: 3,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Rollouts',
        left: [
          rollouts.metricStarted({ period, label: 'started' }),
          count('RolloutSucceeded', 'succeeded'),
          count('RolloutFailed', 'failed'),
          rollouts.metricAborted({ period, label: 'aborted' }),
        ],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Nodes (node workflow executions)',
        left: [
          nodes.metricSucceeded({ period, label: 'updated' }),
          nodes.metricFailed({ period, label: 'failed' }),
          nodes.metricTimedOut({ period, label: 'timed out' }),
        ],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Time per node',
        left: [
          nodes.metricTime({ period, statistic: 'Average', label: 'average' }),
          nodes.metricTime({ period, statistic: 'p90', label: 'p90' }),
          nodes.metricTime({ period, statistic: 'Maximum', label: 'maximum' }),
        ],
        leftYAxis: { label: 'ms', showUnits: false },
        width: 8,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'SSM commands by how they ended',
        left: COMMAND_STATUSES.map((status) =>
          count('CommandCompleted', status === 'TimedOut' ? 'timed out' : status.toLowerCase(), {
            status,
          }),
        ),
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'Completion events dead-lettered',
        left: [
          props.completionDeadLetters.metricApproximateNumberOfMessagesVisible({
            period,
            statistic: 'Maximum',
            label: 'waiting in the dead-letter queue',
          }),
          count('CompletionsRedriven', 'redriven'),
        ],
        width: 12,
      }),
    );
  }
}
