/**
 * Renders the state machine definitions from a synthesized CloudFormation template: the very
 * ASL that `cdk synth` produces, with CloudFormation references replaced by stable placeholder
 * ARNs. Tests validate these definitions and the sandbox runs them; nobody writes ASL by hand.
 */

/** The account and region placeholders used in rendered ARNs (a documentation-only account). */
export const PLACEHOLDER = {
  partition: 'aws',
  region: 'us-east-1',
  account: '000000000000',
} as const;

type Template = {
  Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }>;
};

/** One state machine of the template. */
export interface RenderedStateMachine {
  readonly logicalId: string;
  readonly arn: string;
  readonly definition: AslDefinition;
}

/** A state machine definition (loosely typed: ASL is validated separately). */
export interface AslDefinition {
  readonly StartAt: string;
  readonly States: Record<string, Record<string, unknown>>;
  readonly [key: string]: unknown;
}

/** The placeholder ARN of a resource, by its type and logical id. */
export function placeholderArn(type: string, logicalId: string): string {
  const { partition, region, account } = PLACEHOLDER;
  switch (type) {
    case 'AWS::Lambda::Function':
      return `arn:${partition}:lambda:${region}:${account}:function:${logicalId}`;
    case 'AWS::StepFunctions::StateMachine':
      return `arn:${partition}:states:${region}:${account}:stateMachine:${logicalId}`;
    case 'AWS::S3::Bucket':
      return `arn:${partition}:s3:::${logicalId.toLowerCase()}`;
    case 'AWS::DynamoDB::Table':
      return `arn:${partition}:dynamodb:${region}:${account}:table/${logicalId}`;
    default:
      return `arn:${partition}:cloudformation:${region}:${account}:resource/${logicalId}`;
  }
}

/** The name a `Ref` resolves to for the resource types the definitions reference. */
function refValue(template: Template, logicalId: string): string {
  const pseudo: Record<string, string> = {
    'AWS::Partition': PLACEHOLDER.partition,
    'AWS::Region': PLACEHOLDER.region,
    'AWS::AccountId': PLACEHOLDER.account,
    'AWS::URLSuffix': 'amazonaws.com',
  };
  if (logicalId in pseudo) return pseudo[logicalId] as string;
  const resource = template.Resources[logicalId];
  if (!resource)
    throw new Error(`definition refers to ${logicalId}, which the template does not have`);
  if (resource.Type === 'AWS::S3::Bucket') return logicalId.toLowerCase();
  if (
    resource.Type === 'AWS::StepFunctions::StateMachine' ||
    resource.Type === 'AWS::Lambda::Function'
  ) {
    return placeholderArn(resource.Type, logicalId);
  }
  return logicalId;
}

/** Resolves the intrinsic functions CDK emits in a DefinitionString to a plain string. */
export function resolveIntrinsic(template: Template, value: unknown): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object') {
    const [fn, arg] = Object.entries(value)[0] ?? [];
    if (fn === 'Fn::Join') {
      const [sep, parts] = arg as [string, unknown[]];
      return parts.map((p) => resolveIntrinsic(template, p)).join(sep);
    }
    if (fn === 'Ref') return refValue(template, arg as string);
    if (fn === 'Fn::GetAtt') {
      const [id, attribute] = arg as [string, string];
      const resource = template.Resources[id];
      if (!resource)
        throw new Error(`definition refers to ${id}, which the template does not have`);
      if (attribute === 'Arn') return placeholderArn(resource.Type, id);
      if (attribute === 'Name') return id;
      return `${id}.${attribute}`;
    }
  }
  throw new Error(`cannot render ${JSON.stringify(value)} in a state machine definition`);
}

/** Every state machine of the template, rendered. */
export function renderStateMachines(template: Template): RenderedStateMachine[] {
  return Object.entries(template.Resources)
    .filter(([, r]) => r.Type === 'AWS::StepFunctions::StateMachine')
    .map(([logicalId, r]) => {
      const text = resolveIntrinsic(template, r.Properties?.DefinitionString);
      return {
        logicalId,
        arn: placeholderArn(r.Type, logicalId),
        definition: JSON.parse(text) as AslDefinition,
      };
    });
}

/** The logical id of the Lambda function a rendered Lambda ARN names. */
export function functionLogicalId(arn: string): string | undefined {
  return /:function:([^:]+)$/.exec(arn)?.[1];
}
