/**
 * How a document's `Payload` is encoded: base64 of the UTF-8 JSON, or, when that is longer than a
 * node can take (a Windows environment variable holds 32,766 characters), base64 of the gzip of
 * it. A hotfix command of 100 updates is about 90,000 characters of plain base64 and about 12,000
 * gzipped (the paths and field names repeat). The node tells the two apart by gzip's first two
 * bytes (1F 8B), which no JSON text begins with (`Read-RolloutPayload` in ssm/_common.ps1).
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import { NODE_CONTRACT } from './contracts.js';

/** The longest payload JSON, in UTF-8 bytes, a node unpacks from a gzipped payload. */
export const MAX_PAYLOAD_JSON_BYTES = NODE_CONTRACT.maxPayloadJsonBytes;

const isGzip = (bytes: Uint8Array) => bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;

/** The payload as sent: plain base64 when it fits `maxBase64`, else gzip then base64. */
export function encodePayload(json: string, maxBase64: number): string {
  const bytes = Buffer.from(json, 'utf8');
  const plain = bytes.toString('base64');
  if (plain.length <= maxBase64) return plain;
  return gzipSync(bytes, { level: 9 }).toString('base64');
}

/**
 * The payload's JSON bytes from its base64 bytes, unpacking gzip.
 *
 * @throws Error naming the limit when gzip unpacks to more than {@link MAX_PAYLOAD_JSON_BYTES},
 *   or the gzip is damaged.
 */
export function payloadJsonBytes(decoded: Buffer): Buffer {
  if (!isGzip(decoded)) return decoded;
  try {
    return gunzipSync(decoded, { maxOutputLength: MAX_PAYLOAD_JSON_BYTES });
  } catch (error) {
    throw new Error(
      `Payload: expected gzip of UTF-8 JSON of at most ${MAX_PAYLOAD_JSON_BYTES} bytes; ${(error as Error).message}`,
    );
  }
}
