/**
 * The sandbox's AWS Resource Groups (issue 11): ListGroupResources over the scenario's
 * `resourceGroups` memberships, 50 members a page with a NextToken, and Resource Groups' own
 * NotFoundException for a group nobody is in. Members are EC2 instance ARNs (`i-`) or SSM
 * managed-instance ARNs (`mi-`), as the real call returns them.
 */
import type { ResourceGroupsPort } from '../lambdas/handlers/resolve-target.js';

const PAGE = 50;

/** A Resource Groups port answering from the scenario's nodes. */
export function simulatedResourceGroups(
  nodes: readonly { instanceId: string; resourceGroups?: readonly string[] }[],
  options: { account?: string; region?: string } = {},
): ResourceGroupsPort & { calls: number } {
  const account = options.account ?? '000000000000';
  const region = options.region ?? 'us-east-1';
  const arnOf = (id: string) =>
    id.startsWith('mi-')
      ? `arn:aws:ssm:${region}:${account}:managed-instance/${id}`
      : `arn:aws:ec2:${region}:${account}:instance/${id}`;
  const port = {
    calls: 0,
    async listGroupResources(group: string, nextToken?: string) {
      port.calls++;
      const members = nodes.filter((n) => n.resourceGroups?.includes(group));
      if (members.length === 0) {
        const error = new Error(`Cannot find group ${group}.`);
        error.name = 'NotFoundException';
        throw error;
      }
      const offset = nextToken === undefined ? 0 : Number(nextToken);
      if (!Number.isInteger(offset) || offset < 0 || offset > members.length) {
        const error = new Error('The NextToken is not valid');
        error.name = 'BadRequestException';
        throw error;
      }
      const page = members.slice(offset, offset + PAGE);
      const next = offset + page.length;
      return {
        arns: page.map((n) => arnOf(n.instanceId)),
        ...(next < members.length ? { nextToken: String(next) } : {}),
      };
    },
  };
  return port;
}
