/**
 * The published JSON Schema of the rollout workflow's input (schemas/rollout-input.schema.json)
 * is generated from the zod schema the workflow validates with, so the two never drift.
 * Regenerate with: UPDATE_SCHEMAS=1 npx vitest run test/core/rollout-input-schema-file.test.ts
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { rolloutInputJsonSchema } from '../../lambdas/core/rollout-input.js';

const FILE = fileURLToPath(new URL('../../schemas/rollout-input.schema.json', import.meta.url));

describe('schemas/rollout-input.schema.json', () => {
  it('is the JSON Schema of the input the workflow validates', () => {
    const generated = `${JSON.stringify(rolloutInputJsonSchema(), null, 2)}\n`;
    if (process.env.UPDATE_SCHEMAS === '1') writeFileSync(FILE, generated);
    expect(readFileSync(FILE, 'utf8')).toBe(generated);
  });

  it('accepts the README console example shape (required fields present)', () => {
    const schema = JSON.parse(readFileSync(FILE, 'utf8')) as {
      required: string[];
      properties: Record<string, unknown>;
    };
    expect(schema.required).toEqual(['target']);
    expect(Object.keys(schema.properties)).toEqual(
      expect.arrayContaining([
        'target',
        'plugins',
        'policy',
        'changeTicket',
        'approvalGate',
        'schedule',
      ]),
    );
  });
});
