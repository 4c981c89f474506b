/**
 * How a document's Payload is encoded (lambdas/core/payload-encoding.ts): plain base64 while it
 * fits, gzip then base64 when it does not; the node tells the two apart by gzip's magic bytes
 * 1F 8B (`Read-RolloutPayload` in ssm/_common.ps1) and unpacks at most the contract's limit.
 */
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { NODE_CONTRACT } from '../../lambdas/core/contracts.js';
import {
  encodePayload,
  MAX_PAYLOAD_JSON_BYTES,
  payloadJsonBytes,
} from '../../lambdas/core/payload-encoding.js';

const json = JSON.stringify({ updates: ['CAUHotfix_All/windows10.0-kb5034439-x64.msu'] });
const plainLength = Buffer.from(json, 'utf8').toString('base64').length;
const LIMIT_MESSAGE = `Payload: expected gzip of UTF-8 JSON of at most ${NODE_CONTRACT.maxPayloadJsonBytes} bytes`;

describe('encodePayload', () => {
  it.each([
    { case: 'plain base64 when it is shorter than the limit', max: plainLength + 1, gzip: false },
    { case: 'plain base64 when it is exactly the limit', max: plainLength, gzip: false },
    { case: 'gzip when plain base64 is one character over', max: plainLength - 1, gzip: true },
  ])('$case', ({ max, gzip }) => {
    const encoded = encodePayload(json, max);
    const bytes = Buffer.from(encoded, 'base64');
    expect(bytes[0] === 0x1f && bytes[1] === 0x8b).toBe(gzip);
    expect(payloadJsonBytes(bytes).toString('utf8')).toBe(json);
  });

  it('keeps UTF-8 text whole (a node name or path with non-ASCII letters)', () => {
    const text = JSON.stringify({ node: 'SRV-ÅÄÖ', note: 'straße' });
    for (const max of [1_000, 1]) {
      const decoded = payloadJsonBytes(Buffer.from(encodePayload(text, max), 'base64'));
      expect(decoded.toString('utf8')).toBe(text);
    }
  });

  it('gzips at the best compression (level 9), as the node-contract sizes assume', () => {
    // A hotfix command of 100 updates: the file paths and field names repeat.
    const updates = Array.from({ length: 100 }, (_, i) => ({
      index: i,
      file: `CAUHotfix_All/windows10.0-kb${5_034_000 + i * 37}-x64.msu`,
      sha256: (i * 2_654_435_761).toString(16).padStart(64, String(i % 10)),
      action: 'install',
    }));
    const text = JSON.stringify({ bucket: 'hotfixes', timeoutMinutes: 30, updates });
    const encoded = encodePayload(text, 1);
    expect(Buffer.from(encoded, 'base64')).toEqual(gzipSync(Buffer.from(text), { level: 9 }));
  });
});

describe('payloadJsonBytes', () => {
  const gzipOf = (n: number) => gzipSync(Buffer.alloc(n, 0x20));
  it.each([
    { case: 'plain JSON is returned as it is', bytes: Buffer.from('{"a":1}'), out: '{"a":1}' },
    { case: 'an empty payload', bytes: Buffer.alloc(0), out: '' },
    { case: 'one byte 1F is not gzip', bytes: Buffer.from([0x1f]), out: '\u001f' },
    { case: '1F without 8B is not gzip', bytes: Buffer.from([0x1f, 0x20]), out: '\u001f ' },
    { case: '8B without 1F is not gzip', bytes: Buffer.from([0x20, 0x8b]), out: ' \ufffd' },
  ])('$case', ({ bytes, out }) => {
    expect(payloadJsonBytes(bytes).toString('utf8')).toBe(out);
  });

  it('unpacks gzip up to the contract limit exactly', () => {
    expect(MAX_PAYLOAD_JSON_BYTES).toBe(NODE_CONTRACT.maxPayloadJsonBytes);
    expect(payloadJsonBytes(gzipOf(MAX_PAYLOAD_JSON_BYTES))).toHaveLength(MAX_PAYLOAD_JSON_BYTES);
  });

  it.each([
    { case: 'one byte over the limit', bytes: gzipOf(MAX_PAYLOAD_JSON_BYTES + 1) },
    { case: 'only the magic bytes 1F 8B', bytes: Buffer.from([0x1f, 0x8b]) },
    { case: 'a cut gzip stream', bytes: gzipSync(Buffer.from(json)).subarray(0, 12) },
  ])('refuses $case, naming the limit and why', ({ bytes }) => {
    let error: unknown;
    try {
      payloadJsonBytes(bytes);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(Error);
    const message = (error as Error).message;
    expect(message.startsWith(`${LIMIT_MESSAGE}; `)).toBe(true);
    // zlib's own reason follows the limit (what went wrong in the stream).
    expect(message.length).toBeGreaterThan(LIMIT_MESSAGE.length + 2);
  });
});
