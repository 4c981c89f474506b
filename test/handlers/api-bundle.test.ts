/**
 * Issue 11, point 4: Lambda bundles stay under 300 KB. The API's response schemas
 * (lambdas/core/api-responses.ts) and its OpenAPI document (lambdas/core/api-openapi.ts) are
 * built at load, which esbuild cannot drop, and no handler needs them at run time: every
 * function is bundled here as it deploys (HANDLER_BUNDLING, the settings RolloutFunctions and
 * `npm run bench -- bundles` use) and its esbuild metafile must not list them. The sizes
 * themselves are measured by the benchmark, not here.
 */
import { fileURLToPath } from 'node:url';
import { build, type Metafile } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';
import { FUNCTION_NAMES, HANDLER_BUNDLING, handlerEntry } from '../../lib/rollout-functions.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

/** Built at load, needed by no handler: the OpenAPI document and what only it and clients use. */
const DOCUMENT_ONLY = ['lambdas/core/api-responses.ts', 'lambdas/core/api-openapi.ts'];

/** Each function's bundle inputs (paths from the repository root), as esbuild reports them. */
let inputsOf: Map<string, string[]>;

beforeAll(async () => {
  const result = await build({
    absWorkingDir: REPO,
    entryPoints: Object.fromEntries(FUNCTION_NAMES.map((name) => [name, handlerEntry(name)])),
    outdir: 'dist/api-bundle-test',
    write: false,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: HANDLER_BUNDLING.target,
    minify: HANDLER_BUNDLING.minify,
    mainFields: [...HANDLER_BUNDLING.mainFields],
    banner: { js: HANDLER_BUNDLING.banner },
    external: [...HANDLER_BUNDLING.externalModules],
    metafile: true,
    logLevel: 'error',
  });
  const outputs: Metafile['outputs'] = result.metafile.outputs;
  inputsOf = new Map(
    Object.entries(outputs)
      .filter(([path]) => path.endsWith('.js'))
      .map(([path, output]) => [
        (/([^/]+)\.js$/.exec(path) as RegExpExecArray)[1] as string,
        Object.keys(output.inputs),
      ]),
  );
}, 120_000);

describe('handler bundles', () => {
  it('are built for every function, the API handler from api-model.ts', () => {
    // The paths the next checks look for are the metafile's own: a renamed module fails here.
    expect([...inputsOf.keys()].sort()).toEqual([...FUNCTION_NAMES].sort());
    expect(inputsOf.get('api')).toEqual(
      expect.arrayContaining(['lambdas/handlers/api.ts', 'lambdas/core/api-model.ts']),
    );
  });

  it.each(DOCUMENT_ONLY)('leave out %s: the API handler imports only its types', (module) => {
    for (const [name, inputs] of inputsOf) {
      expect(inputs, `the ${name} function's bundle`).not.toContain(module);
    }
  });
});
