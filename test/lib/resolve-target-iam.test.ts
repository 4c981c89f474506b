/**
 * Least privilege of the resolve-target function (issue 11 §1): it may read managed-node
 * information, list a Resource Group's members (and the tagging lookup that needs), and read
 * node manifests under manifests/ of the artifacts bucket, and write the resolved list under
 * targets/ of it (nothing else); no other function may list Resource Groups, and only the
 * functions that read a resolved list back may read targets/.
 */
import { describe, expect, it } from 'vitest';
import { synth } from './synth.js';

type Statement = { Action?: string | string[]; Resource?: unknown; Effect: string };
const list = <T>(v: T | T[] | undefined): T[] =>
  v === undefined ? [] : Array.isArray(v) ? v : [v];

describe('resolve-target IAM', () => {
  const { template, stack } = synth();
  const resources = (
    template.toJSON() as {
      Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }>;
    }
  ).Resources;
  const role = stack.node
    .findAll()
    .find((c) => c.node.path.endsWith('/resolveTargetRole')) as unknown as {
    node: { defaultChild: unknown };
  };
  const roleId = stack.getLogicalId(role.node.defaultChild as never);
  const statementsOf = (id: string) =>
    Object.values(resources)
      .filter((r) => r.Type === 'AWS::IAM::Policy')
      .filter((r) =>
        list(r.Properties?.Roles as unknown[]).some((x) => (x as { Ref?: string }).Ref === id),
      )
      .flatMap((r) =>
        list((r.Properties?.PolicyDocument as { Statement?: Statement[] } | undefined)?.Statement),
      );

  it('grants exactly the actions resolution uses', () => {
    const actions = statementsOf(roleId)
      .flatMap((s) => list(s.Action))
      .filter((a) => !a.startsWith('xray:') && !a.startsWith('logs:'));
    expect([...new Set(actions)].sort()).toEqual([
      'resource-groups:ListGroupResources',
      's3:GetObject',
      's3:PutObject',
      'ssm:DescribeInstanceInformation',
      'tag:GetResources',
    ]);
  });

  it('reads manifests only under manifests/ and lists groups only in this account and Region', () => {
    const rendered = JSON.stringify(statementsOf(roleId));
    const s3 = statementsOf(roleId).find((s) => list(s.Action).includes('s3:GetObject'));
    expect(JSON.stringify(s3?.Resource)).toMatch(/\/manifests\/\*"/);
    const rg = statementsOf(roleId).find((s) =>
      list(s.Action).includes('resource-groups:ListGroupResources'),
    );
    expect(JSON.stringify(rg?.Resource)).toContain(
      ':resource-groups:us-east-1:000000000000:group/*',
    );
    expect(rendered).not.toMatch(/ssm:SendCommand|dynamodb:/);
    // It writes only the resolved lists, under targets/.
    const put = statementsOf(roleId).filter((s) => list(s.Action).includes('s3:PutObject'));
    expect(put).toHaveLength(1);
    expect(list(put[0]?.Action)).toEqual(['s3:PutObject']);
    expect(JSON.stringify(put[0]?.Resource)).toMatch(/\/targets\/\*"/);
  });

  it('only resolve-target writes targets/; validation, the run history, the scan and the API (its report) read it', () => {
    const byRole = (action: string) =>
      Object.values(resources)
        .filter((r) => r.Type === 'AWS::IAM::Policy')
        .flatMap((r) =>
          list((r.Properties?.PolicyDocument as { Statement?: Statement[] } | undefined)?.Statement)
            .filter(
              (s) =>
                list(s.Action).includes(action) &&
                /\/targets\/\*"/.test(JSON.stringify(s.Resource)),
            )
            .flatMap(() =>
              list(r.Properties?.Roles as { Ref: string }[]).map((x) =>
                x.Ref.replace(/Role[0-9A-F]{8}$/, '').replace(/^.*Functions/, ''),
              ),
            ),
        )
        .sort();
    expect(byRole('s3:PutObject')).toEqual(['resolveTarget', 'validateInput']);
    expect(byRole('s3:GetObject')).toEqual(['api', 'runHistory', 'scan', 'validateInput']);
  });

  it('resolve-target and the scan may run 15 minutes: 2,000 SSM pages at 100,000 nodes', () => {
    const timeouts = Object.values(resources)
      .filter((r) => r.Type === 'AWS::Lambda::Function')
      .map((r) => r.Properties?.Timeout as number);
    // The two list functions at Lambda's longest; every other one shorter.
    expect(timeouts.filter((t) => t === 900)).toHaveLength(2);
    const byRole = (suffix: string) =>
      Object.values(resources).find(
        (r) =>
          r.Type === 'AWS::Lambda::Function' &&
          JSON.stringify(r.Properties?.Role).includes(`${suffix}Role`),
      )?.Properties?.Timeout;
    expect(byRole('resolveTarget')).toBe(900);
    expect(byRole('scan')).toBe(900);
  });

  it('no other role may list Resource Groups', () => {
    const holders = Object.values(resources)
      .filter((r) => r.Type === 'AWS::IAM::Policy')
      .filter((r) =>
        JSON.stringify(r.Properties?.PolicyDocument).includes('resource-groups:ListGroupResources'),
      )
      .flatMap((r) => list(r.Properties?.Roles as { Ref: string }[]).map((x) => x.Ref));
    expect(holders).toEqual([roleId]);
  });
});
