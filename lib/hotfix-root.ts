import { type CustomResourceProvider, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { grantKey, KEY_READ, KEY_READ_WRITE } from './data-key.js';
import { acknowledge, arnToken, wildcardResource } from './nag.js';

/** The feature flag under which S3 access logs are delivered by bucket policy. */
export const S3_LOGS_BY_POLICY = '@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy';

/** The stack-wide provider that `autoDeleteObjects` adds (aws-cdk-lib's own id). */
const AUTO_DELETE_PROVIDER_ID = 'Custom::S3AutoDeleteObjectsCustomResourceProvider';

/** Props of {@link HotfixRoot}. */
export interface HotfixRootProps {
  /**
   * The role allowed to publish updates (write, delete). Nobody else can write to the bucket.
   * @default - a new role, `releaseRole`, assumable by principals of this account that IAM allows
   */
  readonly releaseRole?: iam.IRole;
  /**
   * Roles of the Windows nodes' instance profiles: they may read (download) updates.
   * More can be added with {@link HotfixRoot.grantNodeRead}.
   * @default - none
   */
  readonly nodeRoles?: readonly iam.IRole[];
  /**
   * Bucket for S3 server access logs.
   * @default - a new bucket, retained, encrypted, with a 365-day expiry
   */
  readonly accessLogsBucket?: s3.IBucket;
  /**
   * What happens to the hotfix root and its access-log bucket when the stack is deleted. With
   * `DESTROY` their objects (every version) are emptied first, or CloudFormation could not delete
   * them.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * A customer managed key for the hotfix root's objects (SSE-KMS, with an S3 Bucket Key). The
   * release role and node roles are granted its use. The access-log bucket stays SSE-S3: S3
   * server access logging cannot deliver to an SSE-KMS bucket.
   * @default - SSE-S3
   */
  readonly encryptionKey?: kms.IKey;
}

/**
 * The hotfix root of CAU's hotfix plug-in, on S3: `CAUHotfix_All/`, `<NodeName>/`, folder rule
 * subfolders and `DefaultHotfixConfig.xml` under a prefix. CAU requires that only administrators
 * can write the root and that data arrives intact; here only the release role can write, access
 * is TLS only, objects are encrypted and versioned, and every planned update carries its SHA-256,
 * which the node verifies before running it.
 */
export class HotfixRoot extends Construct {
  public readonly bucket: s3.Bucket;
  public readonly releaseRole: iam.IRole;
  public readonly accessLogsBucket: s3.IBucket;
  private readonly encryptionKey?: kms.IKey;

  constructor(scope: Construct, id: string, props: HotfixRootProps = {}) {
    super(scope, id);
    // Access logs are delivered under a bucket policy, never a log-delivery ACL, whatever the
    // app's feature flags say (the access-log bucket has ACLs disabled).
    this.node.setContext(S3_LOGS_BY_POLICY, true);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const autoDeleteObjects = removalPolicy === RemovalPolicy.DESTROY;
    this.accessLogsBucket =
      props.accessLogsBucket ??
      new s3.Bucket(this, 'AccessLogs', {
        blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
        encryption: s3.BucketEncryption.S3_MANAGED,
        enforceSSL: true,
        // No ACLs: S3 delivers access logs under a bucket policy
        // (@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy).
        objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        lifecycleRules: [{ expiration: Duration.days(365) }],
        removalPolicy,
        autoDeleteObjects,
      });
    this.encryptionKey = props.encryptionKey;
    this.bucket = new s3.Bucket(this, 'Bucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      ...(props.encryptionKey
        ? {
            encryption: s3.BucketEncryption.KMS,
            encryptionKey: props.encryptionKey,
            bucketKeyEnabled: true,
          }
        : { encryption: s3.BucketEncryption.S3_MANAGED }),
      enforceSSL: true,
      versioned: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: 'hotfix-root/',
      lifecycleRules: [{ noncurrentVersionExpiration: Duration.days(90) }],
      removalPolicy,
      autoDeleteObjects,
    });

    this.releaseRole =
      props.releaseRole ??
      new iam.Role(this, 'ReleaseRole', {
        assumedBy: new iam.AccountRootPrincipal(),
        description: 'Publishes updates to the hotfix root (the only writer)',
      });
    this.releaseRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['s3:ListBucket', 's3:ListBucketVersions'],
        resources: [this.bucket.bucketArn],
      }),
    );
    this.releaseRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['s3:PutObject', 's3:GetObject', 's3:GetObjectAttributes', 's3:DeleteObject'],
        resources: [this.bucket.arnForObjects('*')],
      }),
    );
    grantKey(props.encryptionKey, this.releaseRole, KEY_READ_WRITE);
    if (!props.releaseRole) {
      acknowledge(
        this.releaseRole,
        wildcardResource(`${arnToken(this.bucket)}/*`),
        'the release role publishes any update under the hotfix root: every object key is its to write',
      );
    }

    // Only the release role may write or delete, whatever other IAM policies say; and, when the
    // data goes with the stack, the provider that empties the bucket before it is deleted.
    const autoDeleter = autoDeleteObjects
      ? (Stack.of(this).node.tryFindChild(AUTO_DELETE_PROVIDER_ID) as
          | CustomResourceProvider
          | undefined)
      : undefined;
    if (autoDeleteObjects && !autoDeleter) {
      throw new Error(
        `HotfixRoot: aws-cdk-lib no longer names its auto-delete provider ${AUTO_DELETE_PROVIDER_ID}; the bucket could not be emptied`,
      );
    }
    const writers = [this.releaseRole.roleArn, ...(autoDeleter ? [autoDeleter.roleArn] : [])];
    this.bucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'OnlyTheReleaseRoleWrites',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['s3:PutObject', 's3:DeleteObject', 's3:DeleteObjectVersion', 's3:PutObjectAcl'],
        resources: [this.bucket.arnForObjects('*')],
        conditions: {
          ArnNotEquals: { 'aws:PrincipalArn': writers.length === 1 ? writers[0] : writers },
        },
      }),
    );
    for (const role of props.nodeRoles ?? []) this.grantNodeRead(role);
  }

  /** Lets a node role download updates (the install document reads with the instance role). */
  public grantNodeRead(role: iam.IRole): void {
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['s3:GetObject', 's3:GetObjectAttributes'],
        resources: [this.bucket.arnForObjects('*')],
      }),
    );
    grantKey(this.encryptionKey, role, KEY_READ);
    acknowledge(
      role,
      wildcardResource(`${arnToken(this.bucket)}/*`),
      'nodes download whichever updates their plan names from the hotfix root',
    );
  }
}
