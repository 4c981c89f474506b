import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import type * as iam from 'aws-cdk-lib/aws-iam';
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

    this.eventBus = new events.EventBus(this, 'Bus', {
      eventBusName: `${props.namePrefix}-lifecycle`,
      description:
        'Rollout lifecycle events for change management (source windows-rollout.control-plane)',
    });
    this.archive = this.eventBus.archive('Archive', {
      description: 'Rollout lifecycle events, for replay to a subscriber',
      eventPattern: { source: [LIFECYCLE_EVENT_SOURCE] },
      retention,
    });
    this.archive.applyRemovalPolicy(props.removalPolicy ?? RemovalPolicy.RETAIN);
    this.environment = { [EVENT_BUS_ENV]: this.eventBus.eventBusName };
  }

  /** Lets `grantee` publish to the bus (events:PutEvents on this bus only). */
  grantPublish(grantee: iam.IGrantable): iam.Grant {
    return this.eventBus.grantPutEventsTo(grantee);
  }
}
