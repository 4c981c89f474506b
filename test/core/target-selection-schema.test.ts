/**
 * Issue 11: targetSelectionSchema, the zod form of `target.select` that the published JSON
 * Schema and the OpenAPI document are generated from, says what parseTargetSelection checks:
 * the same inputs pass both, and its JSON Schema states the counts, patterns and descriptions.
 */
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import {
  MAX_SELECTION_TAGS,
  parseTargetSelection,
  TargetSelectionError,
  targetSelectionSchema,
} from '../../lambdas/core/target-selection.js';

const apiAccepts = (select: unknown) => {
  try {
    parseTargetSelection({ kind: 'group', name: 'web', select });
    return true;
  } catch (error) {
    if (!(error instanceof TargetSelectionError)) throw error;
    return false;
  }
};

const CASES: { select: unknown; accepted: boolean }[] = [
  { select: { tags: { Env: 'prod' } }, accepted: true },
  { select: { tags: { Env: 'prod', Role: 'web', 'app/tier': 'a b' } }, accepted: true },
  { select: { tags: { Patch: '' } }, accepted: true },
  { select: { tags: { a: '1', b: '2', c: '3', d: '4', e: '5' } }, accepted: true },
  { select: { tags: { 'team/aws:x': 'v' } }, accepted: true },
  { select: { tags: { 'aws:x': 'v' } }, accepted: false },
  { select: { tags: { 'AwS:x': 'v' } }, accepted: false },
  { select: { tags: { 'Env*': 'prod' } }, accepted: false },
  { select: { tags: { Env: 'prod*' } }, accepted: false },
  { select: { tags: { Env: 3 } }, accepted: false },
  { select: { tags: { ['k'.repeat(128)]: 'v' } }, accepted: true },
  { select: { tags: { ['k'.repeat(129)]: 'v' } }, accepted: false },
  { select: { tags: { k: 'v'.repeat(256) } }, accepted: true },
  { select: { tags: { k: 'v'.repeat(257) } }, accepted: false },
  { select: { tags: {} }, accepted: false },
  { select: { tags: { a: '1', b: '1', c: '1', d: '1', e: '1', f: '1' } }, accepted: false },
  { select: { tags: ['Env'] }, accepted: false },
  { select: { resourceGroup: 'wave-1.web_a' }, accepted: true },
  { select: { resourceGroup: 'wave 1' }, accepted: false },
  { select: { resourceGroup: 5 }, accepted: false },
  { select: { manifest: 's3://my-bucket/manifests/wave.json' }, accepted: true },
  { select: { manifest: 's3://my-bucket/a/b/c.csv' }, accepted: true },
  { select: { manifest: 's3://my-bucket/k.json.bak' }, accepted: false },
  { select: { manifest: 'https://example.com/nodes.json' }, accepted: false },
  { select: { tags: { Env: 'prod' }, resourceGroup: 'web' }, accepted: false },
  { select: { tags: { Env: 'prod' }, platform: 'Linux' }, accepted: false },
  { select: {}, accepted: false },
  { select: 'tag:Env=prod', accepted: false },
];

describe('targetSelectionSchema', () => {
  it.each(CASES)('agrees with parseTargetSelection on $select', ({ select, accepted }) => {
    expect(targetSelectionSchema.safeParse(select).success).toBe(accepted);
    expect(apiAccepts(select)).toBe(accepted);
  });

  it('states the rules in its JSON Schema: counts, patterns and what each kind is', () => {
    // Act
    const schema = z.toJSONSchema(targetSelectionSchema, { io: 'input' }) as {
      description: string;
      anyOf: {
        required: string[];
        additionalProperties: boolean;
        properties: Record<string, Record<string, unknown>>;
      }[];
    };

    // Assert
    expect(schema.anyOf.map((o) => o.required)).toEqual([
      ['tags'],
      ['resourceGroup'],
      ['manifest'],
    ]);
    expect(schema.anyOf.every((o) => o.additionalProperties === false)).toBe(true);
    const [tags, group, manifest] = schema.anyOf.map((o) => Object.values(o.properties)[0]);
    expect(tags).toMatchObject({ minProperties: 1, maxProperties: MAX_SELECTION_TAGS });
    expect(tags?.propertyNames).toMatchObject({
      pattern: expect.stringContaining('(?![Aa][Ww][Ss]:)'),
    });
    expect(tags?.description).toContain('not starting with aws:');
    expect(tags?.description).toContain(`1 to ${MAX_SELECTION_TAGS}, all must match`);
    expect(group?.pattern).toBe('^[A-Za-z0-9_.-]{1,300}$');
    expect(group?.description).toContain('resource-groups:Name');
    expect(manifest?.pattern).toContain('(json|csv)');
    expect(manifest?.description).toContain('name,instanceId');
    expect(schema.description).toContain('exactly one of tags, resourceGroup, manifest');
    expect(schema.description).toContain('PlatformTypes=Windows');
    expect(schema.description).toContain('up to 100,000 nodes');
  });

  it('names the rule a value breaks', () => {
    // Every message, nested ones too (a record's key issue, a union's branches).
    type Issue = { message: string; issues?: Issue[]; errors?: Issue[][] };
    const all = (issues: readonly Issue[]): string[] =>
      issues.flatMap((i) => [
        i.message,
        ...all(i.issues ?? []),
        ...(i.errors ?? []).flatMap((branch) => all(branch)),
      ]);
    const message = (select: unknown) =>
      all((targetSelectionSchema.safeParse(select).error?.issues ?? []) as Issue[]);
    expect(message({ tags: { 'aws:x': 'v' } })).toContain(
      'expected a tag key of 1 to 128 letters, digits, spaces and _ . : / = + - @, not starting with aws:',
    );
    expect(message({ tags: { k: '*' } })).toContain(
      'expected a tag value: text of 0 to 256 letters, digits, spaces and _ . : / = + - @',
    );
    expect(message({ tags: {} })).toContain('expected 1 to 5 tags (all must match)');
    expect(message({ resourceGroup: 'a b' })).toContain(
      'expected a Resource Group name: 1 to 300 letters, digits, _ . -',
    );
    expect(message({ manifest: 'x' })).toContain(
      'expected an S3 object of the nodes: s3://bucket/key.json or s3://bucket/key.csv',
    );
  });
});
