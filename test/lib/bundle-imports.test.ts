/**
 * Lambda bundle size (issue 11, point 4): the code that goes into a Lambda imports zod as a
 * namespace (`import * as z from 'zod'`), which esbuild tree-shakes; `import { z } from 'zod'`
 * reaches zod's namespace object and pulls all of zod, locales included, into every bundle
 * (443 of a handler's 623 KB). `npm run bench -- bundles` reports the sizes.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

describe('what the Lambda bundles import', () => {
  const files = sources(join(REPO, 'lambdas'));

  it('finds the Lambda sources', () => {
    expect(files.length).toBeGreaterThan(20);
  });

  it('imports zod as a namespace everywhere, never by its `z` export', () => {
    const offenders = files
      .filter((file) =>
        /import\s*\{[^}]*\bz\b[^}]*\}\s*from\s*'zod'/.test(readFileSync(file, 'utf8')),
      )
      .map((file) => relative(REPO, file));
    expect(offenders).toEqual([]);
  });
});
