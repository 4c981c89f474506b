import type { S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { defaultHotfixConfigXml } from '../../lambdas/core/default-config.js';
import { parseHotfixConfig } from '../../lambdas/core/hotfix-config.js';
import { loadHotfixConfig } from '../../lambdas/shared/hotfix-root.js';

/** An S3 client whose only object is `body`, delivered as bytes the way the SDK does. */
function s3With(body: Buffer): S3Client {
  return {
    send: async () => ({
      ContentLength: body.length,
      Body: { transformToByteArray: async () => new Uint8Array(body) },
    }),
  } as unknown as S3Client;
}

describe('loadHotfixConfig reads a configuration saved by Windows PowerShell 5.1 (issue 12 §5)', () => {
  const xml = defaultHotfixConfigXml().replace('encoding="utf-8"', 'encoding="utf-16"');
  it.each([
    ['UTF-16 LE with BOM', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(xml, 'utf16le')])],
    ['UTF-8 with BOM', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(xml)])],
  ])('%s: the Lambda parses the same rules as the UTF-8 file', async (_name, bytes) => {
    const loaded = await loadHotfixConfig(
      s3With(bytes),
      'bucket',
      'root/',
      'DefaultHotfixConfig.xml',
    );
    expect(loaded.fromRoot).toBe(true);
    expect(loaded.source).toBe('s3://bucket/root/DefaultHotfixConfig.xml');
    expect(loaded.config).toEqual(parseHotfixConfig(xml));
  });
});
