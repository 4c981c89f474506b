/**
 * Issue 11: `target.select` is documented by the published JSON Schema
 * (schemas/rollout-input.schema.json) and the OpenAPI document's RolloutRequest (api/openapi.json),
 * both generated from targetSelectionSchema, the zod schema whose field rules parseTargetSelection
 * applies. Both documents accept every selection the README shows and refuse bad ones at the
 * field the API's own check names; the API's check agrees on every case.
 */
import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { parseTargetSelection, TargetSelectionError } from '../../lambdas/core/target-selection.js';

const readJson = (path: string) =>
  JSON.parse(readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8')) as Record<
    string,
    unknown
  >;

type Json = { [key: string]: unknown };

/** OpenAPI 3.0's draft-4 forms (`exclusiveMinimum: true`, `nullable`) as JSON Schema draft 7. */
function fromOpenApi30(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(fromOpenApi30);
  if (typeof node !== 'object' || node === null) return node;
  const out: Json = {};
  for (const [key, value] of Object.entries(node)) out[key] = fromOpenApi30(value);
  for (const [flag, bound] of [
    ['exclusiveMinimum', 'minimum'],
    ['exclusiveMaximum', 'maximum'],
  ] as const) {
    if (out[flag] === true) {
      out[flag] = out[bound];
      delete out[bound];
    } else if (out[flag] === false) delete out[flag];
  }
  if (out.nullable === true && typeof out.type === 'string') out.type = [out.type, 'null'];
  delete out.nullable;
  return out;
}

const jsonSchema = new Ajv2020({ strict: true, allErrors: true, strictTypes: false });
addFormats.default(jsonSchema);
const validateInput = jsonSchema.compile(readJson('schemas/rollout-input.schema.json'));

const openApi = new Ajv({ strict: false, allErrors: true });
addFormats.default(openApi);
const rolloutRequest = (readJson('api/openapi.json').components as Json).schemas as Json;
const validateRequest = openApi.compile(fromOpenApi30(rolloutRequest.RolloutRequest) as Json);

/** The README's selection examples (its "Targets by tag" section), as targets. */
function readmeExamples(): Record<string, unknown>[] {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('### Targets by tag, Resource Group or manifest'));
  const block = /```json\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
  return block
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map(
      (line) =>
        // The README names the bucket by its role; a deployment's is a bucket name.
        JSON.parse(line.replace('<artifacts bucket>', 'rollout-artifacts-123')) as Record<
          string,
          unknown
        >,
    );
}

const apiProblems = (target: unknown) => {
  try {
    parseTargetSelection(target);
    return [];
  } catch (error) {
    if (!(error instanceof TargetSelectionError)) throw error;
    return error.problems;
  }
};

/** The JSON pointers a validator's errors point at (a bad key: the key itself). */
const pointed = (errors: readonly ErrorObject[] | null | undefined) =>
  (errors ?? []).map((e) =>
    e.params && typeof (e.params as Json).propertyName === 'string'
      ? `${e.instancePath}/${(e.params as Json).propertyName}`
      : e.keyword === 'additionalProperties'
        ? `${e.instancePath}/${(e.params as Json).additionalProperty}`
        : e.instancePath,
  );

const group = (select: unknown, extra: Json = {}) => ({
  kind: 'group',
  name: 'web-prod',
  select,
  ...extra,
});

describe('target.select in the published schemas', () => {
  const examples = readmeExamples();

  it('finds the three README examples: tags, a Resource Group, a manifest', () => {
    expect(examples.map((t) => Object.keys(t.select as Json)[0])).toEqual([
      'tags',
      'resourceGroup',
      'manifest',
    ]);
  });

  it.each(readmeExamples())('accepts the README example $name in both documents', (target) => {
    // Act
    const inSchema = validateInput({ target });
    const inOpenApi = validateRequest({ target });

    // Assert
    expect(validateInput.errors ?? []).toEqual([]);
    expect(inSchema).toBe(true);
    expect(validateRequest.errors ?? []).toEqual([]);
    expect(inOpenApi).toBe(true);
    expect(apiProblems(target)).toEqual([]);
  });

  it.each<{ case: string; target: unknown; field: string; pointer: string; openApi: boolean }>([
    {
      case: 'an aws: tag key',
      target: group({ tags: { 'aws:cloudformation:stack-name': 'x' } }),
      field: 'target.select.tags.aws:cloudformation:stack-name',
      pointer: '/target/select/tags/aws:cloudformation:stack-name',
      // OpenAPI 3.0 has no propertyNames: its description states the key rule (below).
      openApi: false,
    },
    {
      case: 'AWS: in capitals',
      target: group({ tags: { 'AWS:x': 'y' } }),
      field: 'target.select.tags.AWS:x',
      pointer: '/target/select/tags/AWS:x',
      openApi: false,
    },
    {
      case: 'a tag value with *',
      target: group({ tags: { Env: 'prod*' } }),
      field: 'target.select.tags.Env',
      pointer: '/target/select/tags/Env',
      openApi: true,
    },
    {
      case: 'six tags',
      target: group({ tags: { a: '1', b: '1', c: '1', d: '1', e: '1', f: '1' } }),
      field: 'target.select.tags',
      pointer: '/target/select/tags',
      openApi: true,
    },
    {
      case: 'no tags',
      target: group({ tags: {} }),
      field: 'target.select.tags',
      pointer: '/target/select/tags',
      openApi: true,
    },
    {
      case: 'two kinds of selection',
      target: group({ tags: { Env: 'prod' }, resourceGroup: 'web' }),
      field: 'target.select',
      pointer: '/target/select/resourceGroup',
      openApi: true,
    },
    {
      case: 'a Resource Group name with a space',
      target: group({ resourceGroup: 'wave 1' }),
      field: 'target.select.resourceGroup',
      pointer: '/target/select/resourceGroup',
      openApi: true,
    },
    {
      case: 'a manifest over HTTPS',
      target: group({ manifest: 'https://example.com/nodes.json' }),
      field: 'target.select.manifest',
      pointer: '/target/select/manifest',
      openApi: true,
    },
    {
      case: 'a manifest that is neither JSON nor CSV',
      target: group({ manifest: 's3://my-bucket/nodes.txt' }),
      field: 'target.select.manifest',
      pointer: '/target/select/manifest',
      openApi: true,
    },
    {
      case: 'a platform filter (always Windows)',
      target: group({ tags: { Env: 'prod' }, platform: 'Linux' }),
      field: 'target.select.platform',
      pointer: '/target/select/platform',
      openApi: true,
    },
    {
      case: 'both nodes and select',
      target: group(
        { tags: { Env: 'prod' } },
        { nodes: [{ name: 'NODE1', instanceId: 'i-0123456789abcdef0' }] },
      ),
      field: 'target.nodes',
      pointer: '/target/nodes',
      openApi: true,
    },
    {
      case: 'a cluster with select',
      target: { kind: 'cluster', name: 'CLUSTER1', select: { tags: { Env: 'prod' } } },
      field: 'target.kind',
      pointer: '/target/select',
      openApi: true,
    },
  ])('refuses $case, naming $field', ({ target, field, pointer, openApi }) => {
    // Act
    const inSchema = validateInput({ target });
    const schemaErrors = pointed(validateInput.errors);
    const inOpenApi = validateRequest({ target });
    const openApiErrors = pointed(validateRequest.errors);

    // Assert: the API's check and the JSON Schema refuse it at the field.
    expect(apiProblems(target).map((p) => p.field)).toContain(field);
    expect(inSchema).toBe(false);
    expect(schemaErrors).toContain(pointer);
    if (openApi) {
      expect(inOpenApi).toBe(false);
      expect(openApiErrors).toContain(pointer);
    } else {
      expect(inOpenApi).toBe(true);
    }
  });

  it('states the tag key rule in the OpenAPI description, which has no propertyNames', () => {
    const text = JSON.stringify(rolloutRequest.RolloutRequest);
    expect(text).toContain('not starting with aws:');
    expect(text).toContain('PlatformTypes=Windows');
  });
});

/** The dotted paths of the properties a schema marks `readOnly`, through objects and unions. */
function readOnlyPaths(node: unknown, path: string[] = []): string[] {
  if (typeof node !== 'object' || node === null) return [];
  const schema = node as Json;
  const found: string[] = schema.readOnly === true ? [path.join('.')] : [];
  for (const [name, child] of Object.entries((schema.properties ?? {}) as Json)) {
    found.push(...readOnlyPaths(child, [...path, name]));
  }
  for (const key of ['oneOf', 'anyOf', 'allOf'] as const) {
    for (const branch of (schema[key] ?? []) as unknown[])
      found.push(...readOnlyPaths(branch, path));
  }
  return [...new Set(found)];
}

describe('read-only properties in the published schemas', () => {
  const inputPaths = readOnlyPaths(readJson('schemas/rollout-input.schema.json'));
  const requestPaths = readOnlyPaths(rolloutRequest.RolloutRequest);

  it('both documents mark the workflow-set target.resolution read-only', () => {
    expect(inputPaths).toEqual(['target.resolution']);
    expect(requestPaths).toEqual(inputPaths);
  });

  it.each(requestPaths)('POST /rollouts refuses %s, naming it', async (path) => {
    const { ApiError, parseRolloutRequest } = await import('../../lambdas/core/api-model.js');
    const body: Json = {
      target: {
        kind: 'group',
        name: 'web',
        nodes: [{ name: 'WEB01', instanceId: 'i-0123456789abcdef0' }],
      },
    };
    const names = path.split('.');
    let at = body;
    for (const name of names.slice(0, -1)) at = at[name] as Json;
    at[names.at(-1) ?? ''] = {};
    let thrown: unknown;
    try {
      parseRolloutRequest(body, new Date('2026-12-05T08:00:00.000Z'));
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ApiError);
    expect((thrown as InstanceType<typeof ApiError>).problems?.map((p) => p.field)).toContain(path);
  });
});
