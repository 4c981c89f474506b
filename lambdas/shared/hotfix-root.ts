/**
 * The hotfix root on S3: listing it, reading its configuration and hotpatch manifest, and the
 * SHA-256 of each update the node verifies before running it. CAU's hotfix root is an SMB share
 * (seed 003); ours is an S3 prefix, and data integrity is a checksum S3 recorded at upload.
 */
import {
  GetObjectAttributesCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  ListObjectsV2Command,
  type S3Client,
} from '@aws-sdk/client-s3';
import * as z from 'zod';
import { DEFAULT_HOTFIX_CONFIG_FILE, defaultHotfixConfig } from '../core/default-config.js';
import { formatProblems, type ValidationProblem } from '../core/errors.js';
import {
  decodeHotfixConfigBytes,
  type HotfixConfig,
  parseHotfixConfig,
} from '../core/hotfix-config.js';
import { hotpatchFactsSchema } from '../core/hotpatch.js';
import { issueProblems } from '../core/rollout-input.js';

/** The optional file of hotpatch facts in the hotfix root. */
export const HOTPATCH_MANIFEST_FILE = 'hotpatch-manifest.json';

/** The configuration and the manifest are small; a bigger object is a mistake, not input. */
export const MAX_ROOT_DOCUMENT_BYTES = 1024 * 1024;

/** `prefix` as a key prefix: empty, or ending in exactly one `/`. */
export function normalisePrefix(prefix: string): string {
  const trimmed = prefix.replace(/^\/+/, '').replace(/\/+$/, '');
  return trimmed === '' ? '' : `${trimmed}/`;
}

/** `s3://bucket/key`. */
export function s3Uri(bucket: string, key: string): string {
  return `s3://${bucket}/${key}`;
}

/**
 * Every file under the hotfix root, relative to it: all pages of ListObjectsV2, the prefix
 * stripped, folder markers (keys ending `/`) skipped.
 */
export async function listHotfixRoot(
  s3: S3Client,
  bucket: string,
  prefix: string,
): Promise<string[]> {
  const root = normalisePrefix(prefix);
  const files: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: root, ContinuationToken: token }),
    );
    for (const object of page.Contents ?? []) {
      const key = object.Key;
      if (key === undefined || key.endsWith('/') || !key.startsWith(root)) continue;
      files.push(key.slice(root.length));
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
    if (page.IsTruncated && token === undefined) {
      throw new Error(
        `${s3Uri(bucket, root)}: ListObjectsV2 says truncated but gives no continuation token`,
      );
    }
  } while (token !== undefined);
  return files;
}

/** The configuration a run uses, and where it came from. */
export interface LoadedHotfixConfig {
  readonly config: HotfixConfig;
  /** `s3://bucket/prefix/DefaultHotfixConfig.xml`, or our default's file name. */
  readonly source: string;
  /** True when the root has its own configuration file. */
  readonly fromRoot: boolean;
}

/**
 * The root's hotfix configuration (`HotfixConfigFileName`), or our default when the root has
 * none, as CAU falls back to its own.
 *
 * @throws HotfixConfigSyntaxError / HotfixConfigValidationError naming the object's S3 URI.
 */
export async function loadHotfixConfig(
  s3: S3Client,
  bucket: string,
  prefix: string,
  configFileName: string,
): Promise<LoadedHotfixConfig> {
  const key = `${normalisePrefix(prefix)}${configFileName}`;
  const xml = await readObjectText(s3, bucket, key);
  if (xml === undefined) {
    return { config: defaultHotfixConfig(), source: DEFAULT_HOTFIX_CONFIG_FILE, fromRoot: false };
  }
  const source = s3Uri(bucket, key);
  return { config: parseHotfixConfig(xml, source), source, fromRoot: true };
}

/** The object has no full-object SHA-256 that the node could verify. */
export class ChecksumMissingError extends Error {
  override readonly name = 'ChecksumMissing';

  constructor(
    readonly bucket: string,
    readonly key: string,
    detail: string,
  ) {
    super(
      `${s3Uri(bucket, key)} ${detail}: the node verifies every update's SHA-256 before running it, so this update is not planned. Upload it again in one PUT with a SHA-256 checksum: aws s3api put-object --bucket ${bucket} --key "${key}" --body <file> --checksum-algorithm SHA256 (aws s3 cp --checksum-algorithm SHA256 works too for files below its multipart threshold)`,
    );
  }
}

/**
 * The hex SHA-256 of an object, as S3 recorded it at upload (GetObjectAttributes Checksum).
 *
 * @throws ChecksumMissingError (name `ChecksumMissing`) when there is no SHA-256, or only the
 *   composite one of a multipart upload, which is not the file's SHA-256.
 */
export async function checksumOf(s3: S3Client, bucket: string, key: string): Promise<string> {
  const out = await s3.send(
    new GetObjectAttributesCommand({ Bucket: bucket, Key: key, ObjectAttributes: ['Checksum'] }),
  );
  const base64 = out.Checksum?.ChecksumSHA256;
  if (base64 === undefined || base64 === '') {
    throw new ChecksumMissingError(bucket, key, 'has no SHA-256 checksum');
  }
  if (out.Checksum?.ChecksumType === 'COMPOSITE' || base64.includes('-')) {
    throw new ChecksumMissingError(
      bucket,
      key,
      'has only a composite SHA-256 (a checksum of the parts of a multipart upload), not the SHA-256 of the file',
    );
  }
  const bytes = Buffer.from(base64, 'base64');
  if (bytes.length !== 32) {
    throw new ChecksumMissingError(
      bucket,
      key,
      `has a ChecksumSHA256 that is not 32 bytes of base64 (${JSON.stringify(base64)})`,
    );
  }
  return bytes.toString('hex');
}

// ---------------------------------------------------------------------------------------------
// Hotpatch manifest

const [kb897341FactsSchema, modernFactsSchema] = hotpatchFactsSchema.options;

const binariesSchema = z
  .array(
    z.string({ error: 'expected a binary path' }).min(1, { error: 'expected a binary path' }),
    { error: 'expected a list of binary paths, e.g. ["%windir%\\\\system32\\\\Authz.dll"]' },
  )
  .max(64, { error: 'expected at most 64 binaries per update' });

/**
 * One update's hotpatch facts: the `update` part of the facts (see hotpatch.ts), the policy it
 * is judged under, and the binaries it replaces, whose file versions the node's inventory reports.
 */
const manifestEntrySchema = z.discriminatedUnion(
  'policy',
  [
    z.strictObject({
      policy: z.literal('kb897341'),
      update: kb897341FactsSchema.shape.update,
      binaries: binariesSchema,
    }),
    z.strictObject({
      policy: z.literal('modern'),
      update: modernFactsSchema.shape.update,
      binaries: binariesSchema.default([]),
    }),
  ],
  {
    error: (issue) =>
      issue.code === 'invalid_union'
        ? 'expected "kb897341" or "modern"'
        : 'expected { policy, update, binaries }',
  },
);

/** `hotpatch-manifest.json`: hotpatch facts per file, keyed by the path relative to the root. */
export const hotpatchManifestSchema = z.record(
  z.string().min(1, { error: 'expected a file path relative to the hotfix root' }),
  manifestEntrySchema,
  {
    error:
      'expected an object: { "<file relative to the hotfix root>": { policy, update, binaries } }',
  },
);

export type HotpatchManifestEntry = z.output<typeof manifestEntrySchema>;
export type HotpatchManifest = Readonly<Record<string, HotpatchManifestEntry>>;

/** The hotpatch manifest is not valid JSON or breaks the schema; lists every problem. */
export class HotpatchManifestError extends Error {
  override readonly name = 'HotpatchManifestInvalid';
  readonly problems: readonly ValidationProblem[];

  constructor(
    source: string,
    problems: readonly ValidationProblem[],
    options?: { cause?: unknown },
  ) {
    super(formatProblems(`${source}: not a valid hotpatch manifest`, problems), options);
    this.problems = problems;
  }
}

/** How the manifest's keys and the plan's files are compared: `/` separators, any case. */
const manifestKey = (file: string) => file.replace(/\\/g, '/').replace(/^\/+/, '').toLowerCase();

/**
 * The root's `hotpatch-manifest.json`, validated; `{}` when the root has none.
 *
 * @throws HotpatchManifestError (name `HotpatchManifestInvalid`) naming each field and value.
 */
export async function loadHotpatchManifest(
  s3: S3Client,
  bucket: string,
  prefix: string,
): Promise<HotpatchManifest> {
  const key = `${normalisePrefix(prefix)}${HOTPATCH_MANIFEST_FILE}`;
  const text = await readObjectText(s3, bucket, key);
  if (text === undefined) return {};
  return parseHotpatchManifest(text, s3Uri(bucket, key));
}

/** Parses and validates the manifest's text; `source` names it in errors. */
export function parseHotpatchManifest(text: string, source: string): HotpatchManifest {
  let json: unknown;
  try {
    json = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (error) {
    throw new HotpatchManifestError(
      source,
      [{ field: '(root)', message: `not valid JSON: ${(error as Error).message}` }],
      { cause: error },
    );
  }
  const result = hotpatchManifestSchema.safeParse(json);
  if (!result.success) {
    throw new HotpatchManifestError(source, issueProblems(result.error.issues, json), {
      cause: result.error,
    });
  }
  const seen = new Map<string, string>();
  const problems: ValidationProblem[] = [];
  for (const file of Object.keys(result.data)) {
    const first = seen.get(manifestKey(file));
    if (first !== undefined) {
      problems.push({
        field: JSON.stringify(file),
        message: `the same file as ${JSON.stringify(first)} (paths compare ignoring case and separators)`,
      });
    } else seen.set(manifestKey(file), file);
  }
  if (problems.length > 0) throw new HotpatchManifestError(source, problems);
  return result.data;
}

/** The manifest entry for a file of the plan, matched ignoring case and `\` versus `/`. */
export function findManifestEntry(
  manifest: HotpatchManifest,
  file: string,
): HotpatchManifestEntry | undefined {
  const wanted = manifestKey(file);
  for (const [key, entry] of Object.entries(manifest)) {
    if (manifestKey(key) === wanted) return entry;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------

/** An object of the root is bigger than a configuration document can reasonably be. */
export class HotfixRootObjectTooLargeError extends Error {
  override readonly name = 'HotfixRootObjectTooLarge';
}

/** The object's text, or undefined when it does not exist (NoSuchKey / 404). */
async function readObjectText(
  s3: S3Client,
  bucket: string,
  key: string,
): Promise<string | undefined> {
  let out: GetObjectCommandOutput;
  try {
    out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  } catch (error) {
    // Without s3:ListBucket a missing key is 403 AccessDenied; our functions hold it, so 404.
    if (isNotFound(error)) return undefined;
    throw error;
  }
  if ((out.ContentLength ?? 0) > MAX_ROOT_DOCUMENT_BYTES) {
    throw new HotfixRootObjectTooLargeError(
      `${s3Uri(bucket, key)} is ${out.ContentLength} bytes; at most ${MAX_ROOT_DOCUMENT_BYTES} are read`,
    );
  }
  // A configuration saved by Windows PowerShell 5.1 is UTF-16 with a BOM: decode by the BOM.
  const bytes = await out.Body?.transformToByteArray();
  return bytes === undefined ? '' : decodeHotfixConfigBytes(bytes);
}

function isNotFound(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { name, $metadata } = error as { name?: unknown; $metadata?: { httpStatusCode?: number } };
  return name === 'NoSuchKey' || name === 'NotFound' || $metadata?.httpStatusCode === 404;
}
