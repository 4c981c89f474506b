import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { LIFECYCLE_EVENT_SOURCE } from '../lambdas/core/contracts.js';
import { EVENT_BUS_ENV } from '../lambdas/core/lifecycle-events.js';

/** Props of {@link RolloutEvents}. */
export interface RolloutEventsProps {
  /** Prefix of the bus name: the bus is `<namePrefix>-lifecycle`. */
  readonly namePrefix: string;
  /**
   * How long the archive keeps lifecycle events, so a subscriber that was down (or is new) can
   * replay them. Zero keeps them indefinitely.
   * @default Duration.days(365)
   */
  readonly archiveRetention?: Duration;
  /**
   * What happens to the archive (and the events it holds) when the stack is deleted.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * A customer managed key for the bus and its archive. aws-cdk-lib adds the key-policy
   * statements EventBridge needs when the key belongs to this stack; publishers need none.
   * @default - an AWS owned key
   */
  readonly encryptionKey?: kms.IKey;
}

/**
 * The lifecycle event bus: rollout started, approval required, node updated, rollout succeeded /
 * failed / cancelled, each carrying the change ticket (schemas in `events/`). Change-management
 * systems subscribe with rules on this bus; an archive of our events allows replay.
 */
export class RolloutEvents extends Construct {
  /** The bus; add subscribers' rules to it. */
  public readonly eventBus: events.EventBus;
  /** Every event of {@link LIFECYCLE_EVENT_SOURCE} on the bus, for replay. */
  public readonly archive: events.Archive;
  /** The environment a publishing function needs: `EVENT_BUS_NAME`. */
  public readonly environment: Readonly<Record<string, string>>;

  constructor(scope: Construct, id: string, props: RolloutEventsProps) {
    super(scope, id);
    const retention = props.archiveRetention ?? Duration.days(365);
    const problems: string[] = [];
    // Bus names: 1 to 256 of A-Z a-z 0-9 . - _, and "-lifecycle" takes 10.
    if (!/^[A-Za-z0-9._-]{1,246}$/.test(props.namePrefix)) {
      problems.push(
        `namePrefix ${JSON.stringify(props.namePrefix)}: expected 1 to 246 of A-Z a-z 0-9 . - _`,
      );
    }
    if (!retention.isUnresolved() && retention.toMilliseconds() % 86_400_000 !== 0) {
      problems.push(
        `archiveRetention (${retention.toHumanString()}): expected whole days (0 keeps events indefinitely)`,
      );
    }
    if (problems.length > 0) throw new Error(`RolloutEvents: ${problems.join('; ')}`);

    const busName = `${props.namePrefix}-lifecycle`;
    this.eventBus = new events.EventBus(this, 'Bus', {
      eventBusName: busName,
      description:
        'Rollout lifecycle events for change management (source windows-rollout.control-plane)',
      ...(props.encryptionKey ? { kmsKey: props.encryptionKey } : {}),
    });
    this.archive = this.eventBus.archive('Archive', {
      description: 'Rollout lifecycle events, for replay to a subscriber',
      eventPattern: { source: [LIFECYCLE_EVENT_SOURCE] },
      retention,
    });
    if (props.encryptionKey) this.encryptArchive(props.encryptionKey, busName);
    this.archive.applyRemovalPolicy(props.removalPolicy ?? RemovalPolicy.RETAIN);
    this.environment = { [EVENT_BUS_ENV]: this.eventBus.eventBusName };
  }

  /**
   * Encrypts the archive with the bus's key. aws-cdk-lib's `kmsKey` on an archive writes a
   * key-policy statement that names the bus's ARN attribute, a dependency cycle (key, bus, key)
   * when the bus uses the same key; the statement here names the bus by its known name instead.
   */
  private encryptArchive(key: kms.IKey, busName: string): void {
    (this.archive.node.defaultChild as events.CfnArchive).kmsKeyIdentifier = key.keyArn;
    const busArn = Stack.of(this).formatArn({
      service: 'events',
      resource: 'event-bus',
      resourceName: busName,
    });
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'EventBridgeEncryptsTheLifecycleArchive',
        principals: [new iam.ServicePrincipal('events.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey', 'kms:ReEncrypt*', 'kms:DescribeKey'],
        resources: ['*'],
        conditions: { StringEquals: { 'kms:EncryptionContext:aws:events:event-bus:arn': busArn } },
      }),
    );
  }

  /** Lets `grantee` publish to the bus (events:PutEvents on this bus only). */
  grantPublish(grantee: iam.IGrantable): iam.Grant {
    return this.eventBus.grantPutEventsTo(grantee);
  }
}
