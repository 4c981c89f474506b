/**
 * The descriptions of the published input schema (schemas/rollout-input.schema.json, generated
 * from the rollout input), for tests that check a module's own schema carries the same: the
 * schema file is what callers and the OpenAPI document read.
 */
import { readFileSync } from 'node:fs';
import * as z from 'zod';

type Json = { [key: string]: unknown };

/** Every `description` in a JSON Schema, by the path of keys leading to it. */
export function descriptions(schema: unknown, path = ''): Record<string, string> {
  const out: Record<string, string> = {};
  if (typeof schema !== 'object' || schema === null) return out;
  for (const [key, value] of Object.entries(schema as Json)) {
    if (key === 'description' && typeof value === 'string') out[path || '(root)'] = value;
    else Object.assign(out, descriptions(value, path ? `${path}.${key}` : key));
  }
  return out;
}

/** The published schema of one top-level property of the rollout input. */
export function publishedProperty(name: string): unknown {
  const file = JSON.parse(readFileSync('schemas/rollout-input.schema.json', 'utf8')) as {
    properties: Json;
  };
  return file.properties[name];
}

/** The descriptions of a zod schema as its input JSON Schema carries them. */
export function liveDescriptions(schema: z.ZodType): Record<string, string> {
  return descriptions(z.toJSONSchema(schema, { io: 'input' }));
}
