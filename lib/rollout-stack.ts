import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { RolloutControlPlane } from './rollout-control-plane.js';
import { RolloutDashboard } from './rollout-dashboard.js';
import type { RolloutScheduleEntry } from './rollout-schedules.js';

/** The settings of the stack, read from `cdk.json` context (or `-c key=value`). */
export interface RolloutSettings {
  readonly namePrefix: string;
  readonly targetTagKey: string;
  readonly targetTagValue: string;
  readonly logRetentionDays: number;
  readonly lockLeaseHours: number;
  readonly nodeRoleArns: readonly string[];
  readonly releaseRoleArn?: string;
  readonly retainData: boolean;
  /**
   * A customer managed KMS key for the data at rest: false (AWS managed keys), true (the stack
   * makes one, with yearly rotation, kept or deleted with the data), or the ARN of a key of
   * yours, whose policy must already allow what the README lists.
   */
  readonly customerManagedKey: boolean | string;
  /** How much the state machines log: ALL (without execution data), ERROR, FATAL or OFF. */
  readonly workflowLogLevel: 'ALL' | 'ERROR' | 'FATAL' | 'OFF';
  /** Scheduled self-updating windows (RolloutScheduleEntry objects; the construct checks them). */
  readonly schedules: readonly unknown[];
}

/** Defaults of every context setting; the README lists them. */
export const DEFAULT_SETTINGS: RolloutSettings = {
  namePrefix: 'WindowsRollout',
  targetTagKey: 'WindowsRollout',
  targetTagValue: 'managed',
  logRetentionDays: 365,
  lockLeaseHours: 6,
  nodeRoleArns: [],
  retainData: true,
  customerManagedKey: false,
  workflowLogLevel: 'ERROR',
  schedules: [],
};

const LOG_LEVELS = ['ALL', 'ERROR', 'FATAL', 'OFF'] as const;

const RETENTION_DAYS = new Set(
  Object.values(logs.RetentionDays).filter((v): v is number => typeof v === 'number'),
);

/** Bad cdk.json context; bin/app.ts prints its message without a stack. */
export class SettingsError extends Error {
  override readonly name = 'SettingsError';
}

/** Why a role ARN cannot be used: a README placeholder left in, or not an IAM role ARN. */
function roleArnProblem(arn: string): string | undefined {
  if (/[<>]/.test(arn)) {
    return 'a placeholder from the README; replace <...> with your account id and role name';
  }
  if (!/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/.test(arn)) {
    return 'expected an IAM role ARN: arn:aws:iam::<12-digit account>:role/<name>';
  }
  return undefined;
}

/**
 * Reads the settings from context values (strings from `-c`, or JSON values from cdk.json),
 * applying defaults, and throws one error listing every bad value.
 */
export function readSettings(get: (key: string) => unknown): RolloutSettings {
  const problems: string[] = [];
  const str = (key: keyof RolloutSettings, fallback: string) => {
    const v = get(key);
    if (v === undefined) return fallback;
    if (typeof v !== 'string' || v.trim() === '') {
      problems.push(`${key} (${JSON.stringify(v)}): expected a non-empty string`);
      return fallback;
    }
    return v;
  };
  const num = (
    key: keyof RolloutSettings,
    fallback: number,
    ok: (n: number) => boolean,
    what: string,
  ) => {
    const v = get(key);
    if (v === undefined) return fallback;
    const n = typeof v === 'string' ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isInteger(n) || !ok(n)) {
      problems.push(`${key} (${JSON.stringify(v)}): expected ${what}`);
      return fallback;
    }
    return n;
  };
  const arns = (() => {
    const v = get('nodeRoleArns');
    if (v === undefined) return [];
    // One list syntax for every list setting: a JSON list, in cdk.json or after -c (as for
    // schedules); a comma-separated -c value is kept for the one-role case.
    let list: unknown = v;
    if (typeof v === 'string' && v.trim().startsWith('[')) {
      try {
        list = JSON.parse(v);
      } catch {
        problems.push(`nodeRoleArns (${JSON.stringify(v)}): expected a JSON list of IAM role ARNs`);
        return [];
      }
    } else if (typeof v === 'string') {
      list = v
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean);
    }
    if (!Array.isArray(list) || list.some((x) => typeof x !== 'string' || !x.startsWith('arn:'))) {
      problems.push(`nodeRoleArns (${JSON.stringify(v)}): expected a list of IAM role ARNs`);
      return [];
    }
    for (const arn of list as string[]) {
      const why = roleArnProblem(arn);
      if (why) problems.push(`nodeRoleArns (${JSON.stringify(arn)}): ${why}`);
    }
    return list as string[];
  })();
  const retain = get('retainData');
  const retainData = retain === undefined ? true : retain === true || retain === 'true';
  if (retain !== undefined && ![true, false, 'true', 'false'].includes(retain as never)) {
    problems.push(`retainData (${JSON.stringify(retain)}): expected true or false`);
  }
  const cmk = get('customerManagedKey');
  let customerManagedKey: boolean | string = DEFAULT_SETTINGS.customerManagedKey;
  if (cmk === true || cmk === 'true') customerManagedKey = true;
  else if (cmk === undefined || cmk === false || cmk === 'false') customerManagedKey = false;
  else if (
    typeof cmk === 'string' &&
    /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/.test(cmk)
  ) {
    customerManagedKey = cmk;
  } else {
    problems.push(
      `customerManagedKey (${JSON.stringify(cmk)}): expected true, false or a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)`,
    );
  }
  const logLevel = get('workflowLogLevel');
  if (logLevel !== undefined && !LOG_LEVELS.includes(logLevel as never)) {
    problems.push(
      `workflowLogLevel (${JSON.stringify(logLevel)}): expected ${LOG_LEVELS.join(', ')}`,
    );
  }
  const workflowLogLevel = LOG_LEVELS.includes(logLevel as never)
    ? (logLevel as RolloutSettings['workflowLogLevel'])
    : DEFAULT_SETTINGS.workflowLogLevel;
  const schedules = (() => {
    const v = get('schedules');
    if (v === undefined) return [];
    let list: unknown = v;
    if (typeof v === 'string') {
      try {
        list = JSON.parse(v);
      } catch {
        problems.push(`schedules (${JSON.stringify(v)}): expected a JSON list of schedules`);
        return [];
      }
    }
    if (!Array.isArray(list)) {
      problems.push(`schedules (${JSON.stringify(v)}): expected a list of schedules`);
      return [];
    }
    return list as unknown[];
  })();
  const releaseRoleArn = get('releaseRoleArn');
  if (
    releaseRoleArn !== undefined &&
    (typeof releaseRoleArn !== 'string' || !releaseRoleArn.startsWith('arn:'))
  ) {
    problems.push(`releaseRoleArn (${JSON.stringify(releaseRoleArn)}): expected an IAM role ARN`);
  } else if (typeof releaseRoleArn === 'string') {
    const why = roleArnProblem(releaseRoleArn);
    if (why) problems.push(`releaseRoleArn (${JSON.stringify(releaseRoleArn)}): ${why}`);
  }
  const settings: RolloutSettings = {
    namePrefix: str('namePrefix', DEFAULT_SETTINGS.namePrefix),
    targetTagKey: str('targetTagKey', DEFAULT_SETTINGS.targetTagKey),
    targetTagValue: str('targetTagValue', DEFAULT_SETTINGS.targetTagValue),
    logRetentionDays: num(
      'logRetentionDays',
      DEFAULT_SETTINGS.logRetentionDays,
      (n) => RETENTION_DAYS.has(n),
      `one of CloudWatch Logs' retention periods (${[...RETENTION_DAYS].sort((a, b) => a - b).join(', ')})`,
    ),
    lockLeaseHours: num(
      'lockLeaseHours',
      DEFAULT_SETTINGS.lockLeaseHours,
      (n) => n >= 1 && n <= 72,
      'whole hours from 1 to 72',
    ),
    nodeRoleArns: arns,
    ...(typeof releaseRoleArn === 'string' && releaseRoleArn.startsWith('arn:')
      ? { releaseRoleArn }
      : {}),
    retainData,
    customerManagedKey,
    workflowLogLevel,
    schedules,
  };
  if (problems.length > 0) {
    throw new SettingsError(`cdk.json context is invalid:\n  - ${problems.join('\n  - ')}`);
  }
  return settings;
}

/** The deployable stack: one {@link RolloutControlPlane} configured from context. */
export class RolloutStack extends Stack {
  public readonly controlPlane: RolloutControlPlane;

  constructor(scope: Construct, id: string, settings: RolloutSettings, props?: StackProps) {
    super(scope, id, props);
    const dataRemovalPolicy = settings.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    const encryptionKey =
      settings.customerManagedKey === true
        ? new kms.Key(this, 'DataKey', {
            description: `Data at rest of the ${settings.namePrefix} rollout control plane`,
            alias: `alias/${settings.namePrefix}-data`,
            enableKeyRotation: true,
            // Deleting the key while the data is kept would leave the data unreadable.
            removalPolicy: dataRemovalPolicy,
          })
        : typeof settings.customerManagedKey === 'string'
          ? kms.Key.fromKeyArn(this, 'DataKey', settings.customerManagedKey)
          : undefined;
    this.controlPlane = new RolloutControlPlane(this, 'ControlPlane', {
      ...(encryptionKey ? { encryptionKey } : {}),
      namePrefix: settings.namePrefix,
      targetTag: { key: settings.targetTagKey, value: settings.targetTagValue },
      logRetention: settings.logRetentionDays as logs.RetentionDays,
      lockLease: Duration.hours(settings.lockLeaseHours),
      dataRemovalPolicy,
      workflowLogLevel: sfn.LogLevel[settings.workflowLogLevel],
      schedules: settings.schedules as readonly RolloutScheduleEntry[],
      nodeRoles: settings.nodeRoleArns.map((arn, i) =>
        iam.Role.fromRoleArn(this, `NodeRole${i}`, arn, { mutable: true }),
      ),
      ...(settings.releaseRoleArn
        ? {
            releaseRole: iam.Role.fromRoleArn(this, 'ReleaseRole', settings.releaseRoleArn, {
              mutable: false,
            }),
          }
        : {}),
    });
    // Everything the README asks the operator for after a deploy (README, "Deploying").
    const plane = this.controlPlane;
    const outputs: Record<string, { description: string; value: string }> = {
      ApiUrl: {
        description: 'The change-management API (rollout --endpoint, or ROLLOUT_API_URL)',
        value: plane.api.url,
      },
      RolloutStateMachineArn: {
        description: 'The rollout workflow: start an execution here from the console',
        value: plane.rolloutWorkflow.stateMachineArn,
      },
      HotfixBucketName: {
        description: 'The hotfix root bucket (HotfixRootFolderPath=s3://<bucket>/<prefix>/)',
        value: plane.hotfixRoot.bucket.bucketName,
      },
      ReleaseRoleArn: {
        description: 'The only role that may write to the hotfix root: publish updates with it',
        value: plane.hotfixRoot.releaseRole.roleArn,
      },
    };
    for (const [id, output] of Object.entries(outputs)) new CfnOutput(this, id, output);
    const dashboard = new RolloutDashboard(this, 'Dashboard', {
      dashboardName: `${settings.namePrefix}-rollouts`,
      rolloutWorkflow: plane.rolloutWorkflow,
      nodeWorkflow: plane.nodeWorkflow,
      completionDeadLetters: plane.completionDeadLetters,
      alarms: [plane.failedRolloutsAlarm, plane.warnAfterAlarm, plane.completionDeadLettersAlarm],
    });
    new CfnOutput(this, 'DashboardName', {
      description: 'The CloudWatch dashboard of rollouts, nodes, commands and alarms',
      value: dashboard.dashboard.dashboardName,
    });
    // What an operator needs to redrive lost completions (README, "Redriving lost completions").
    new CfnOutput(this, 'CompletionDeadLetterQueueUrl', {
      description: 'Command-status events that could not complete their task',
      value: this.controlPlane.completionDeadLetters.queueUrl,
    });
    new CfnOutput(this, 'CompletionRedriveMappingId', {
      description: 'Enable this event source mapping to redrive the dead letters; disable it after',
      value: this.controlPlane.completionRedrive.eventSourceMappingId,
    });
  }
}
