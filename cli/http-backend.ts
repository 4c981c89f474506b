/**
 * The deployed change-management API over HTTPS. The API authorizes with IAM (`AWS_IAM` on every
 * method of api/openapi.json), so each request is signed with SigV4 for the service
 * `execute-api`, with credentials from the AWS SDK's default chain (environment, SSO, shared
 * config and credentials files, web identity, ECS, EC2 instance metadata).
 */
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { SignatureV4 } from '@smithy/signature-v4';
import { UsageError } from './args.js';
import {
  type ApiAnswer,
  type ApiCall,
  apiBackend,
  BackendError,
  type RolloutBackend,
  type Transport,
} from './backend.js';

/** What SigV4 signs with: static keys, or a provider of them (the credentials chain). */
export interface Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  readonly expiration?: Date;
}

export interface HttpBackendOptions {
  /** The API's base URL (its stage included), e.g. https://abc123.execute-api.eu-west-1.amazonaws.com/v1 */
  readonly endpoint: string;
  /** @default - from the endpoint's host, else AWS_REGION, else AWS_DEFAULT_REGION */
  readonly region?: string;
  /** @default fromNodeProviderChain({ profile }) */
  readonly credentials?: Credentials | (() => Promise<Credentials>);
  /** The shared config profile for the default chain. @default - AWS_PROFILE, else "default" */
  readonly profile?: string;
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
  /** When a request is signed. @default - now */
  readonly now?: () => Date;
  /**
   * How long one request may take. API Gateway ends an integration at 29 seconds, so a request
   * still open after 35 has lost its answer. @default 35_000
   */
  readonly timeoutMs?: number;
}

/** The environment variable `--endpoint` defaults to. */
export const ENDPOINT_ENV = 'ROLLOUT_API_URL';

/**
 * SHA-256 and HMAC-SHA256 on node:crypto, in the shape SigV4 takes (`@smithy/hash-node`'s Hash,
 * which is not installed on its own: it now ships inside `@smithy/core`).
 */
class Sha256 {
  private readonly hash: Hash | Hmac;

  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash =
      secret === undefined ? createHash('sha256') : createHmac('sha256', toBuffer(secret));
  }

  update(data: string | ArrayBuffer | ArrayBufferView, encoding?: 'utf8' | 'ascii' | 'latin1') {
    this.hash.update(toBuffer(data, encoding));
  }

  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
}

function toBuffer(
  data: string | ArrayBuffer | ArrayBufferView,
  encoding: BufferEncoding = 'utf8',
): Buffer {
  if (typeof data === 'string') return Buffer.from(data, encoding);
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}

const EXECUTE_API_HOST =
  /\.execute-api\.([a-z]{2}(?:-[a-z]+)+-\d+)\.(?:vpce\.)?amazonaws\.com(?:\.cn)?$/;

/**
 * The region to sign for. An execute-api host names its own region, and a signature for any other
 * region is refused, so the host wins over the environment (AWS_REGION is often set for other
 * work); `--region` wins over both, for a custom domain name in front of the API.
 */
export function resolveRegion(url: URL, region: string | undefined): string {
  if (region !== undefined && region.trim() !== '') return region.trim();
  const fromHost = EXECUTE_API_HOST.exec(url.hostname)?.[1];
  if (fromHost !== undefined) return fromHost;
  const fromEnv = process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION;
  if (fromEnv) return fromEnv;
  throw new UsageError(
    `--endpoint ${JSON.stringify(url.href)}: the host does not name a region (it is not <id>.execute-api.<region>.amazonaws.com); give --region or set AWS_REGION`,
  );
}

/** The endpoint URL, checked: https (http only to loopback, for a local proxy). */
export function parseEndpoint(endpoint: string): URL {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new UsageError(
      `--endpoint ${JSON.stringify(endpoint)}: not a URL; expected e.g. https://abc123.execute-api.eu-west-1.amazonaws.com/v1`,
    );
  }
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw new UsageError(
      `--endpoint ${JSON.stringify(endpoint)}: expected an https:// URL (signed requests and their answers must not travel in clear text)`,
    );
  }
  if (url.search !== '' || url.hash !== '') {
    throw new UsageError(
      `--endpoint ${JSON.stringify(endpoint)}: expected the API's base URL without ?query or #fragment`,
    );
  }
  return url;
}

/** RFC 3986 encoding, as SigV4 canonicalizes a query (encodeURIComponent leaves !'()* alone). */
const rfc3986 = (text: string) =>
  encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );

/** The API over HTTPS, each request SigV4-signed for execute-api. */
export function createHttpBackend(options: HttpBackendOptions): RolloutBackend {
  const { transport, description } = createHttpTransport(options);
  return apiBackend(transport, description);
}

/**
 * The signed transport alone (the dashboard's server relays the page's requests through it, so
 * the credentials stay in the server), and where it sends.
 */
export function createHttpTransport(options: HttpBackendOptions): {
  readonly transport: Transport;
  readonly description: string;
} {
  const base = parseEndpoint(options.endpoint);
  const region = resolveRegion(base, options.region);
  const basePath = base.pathname.replace(/\/+$/, '');
  const doFetch = options.fetch ?? globalThis.fetch;
  const timeoutMs = options.timeoutMs ?? 35_000;
  const credentials =
    options.credentials ??
    fromNodeProviderChain(options.profile === undefined ? {} : { profile: options.profile });
  const signer = new SignatureV4({
    service: 'execute-api',
    region,
    credentials: typeof credentials === 'function' ? credentials : async () => credentials,
    sha256: Sha256,
  });

  const transport = async (call: ApiCall): Promise<ApiAnswer> => {
    const path = `${basePath}${call.path}`;
    const search = Object.entries(call.query)
      .map(([name, value]) => `${rfc3986(name)}=${rfc3986(value)}`)
      .join('&');
    const url = `${base.origin}${path}${search === '' ? '' : `?${search}`}`;
    const where = `${call.method} ${url}`;
    let signed: { headers: Record<string, string> };
    try {
      signed = await signer.sign(
        {
          method: call.method,
          protocol: base.protocol,
          hostname: base.hostname,
          ...(base.port === '' ? {} : { port: Number(base.port) }),
          path,
          query: { ...call.query },
          headers: { ...call.headers, host: base.host },
          ...(call.body === undefined ? {} : { body: call.body }),
        },
        options.now ? { signingDate: options.now() } : {},
      );
    } catch (error) {
      throw credentialsError(error, options.profile);
    }
    // fetch sets Host from the URL itself (the same value that was signed).
    const { host: _host, ...headers } = signed.headers;
    let response: Response;
    try {
      response = await doFetch(url, {
        method: call.method,
        headers,
        ...(call.body === undefined ? {} : { body: call.body }),
        signal: AbortSignal.timeout(timeoutMs),
        redirect: 'error',
      });
    } catch (error) {
      throw networkError(error, where, timeoutMs);
    }
    const answerHeaders: Record<string, string> = {};
    response.headers.forEach((value, name) => {
      answerHeaders[name.toLowerCase()] = value;
    });
    return { status: response.status, headers: answerHeaders, body: await response.text() };
  };

  return { transport, description: `${base.origin}${basePath} (${region})` };
}

function credentialsError(error: unknown, profile: string | undefined): BackendError {
  const message = error instanceof Error ? error.message : String(error);
  return new BackendError({
    status: 0,
    code: 'NoCredentials',
    message: `cannot sign the request: no AWS credentials (${message}); configure the credentials chain (aws configure, aws sso login${profile === undefined ? ', AWS_PROFILE' : ` for profile ${profile}`}, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY), or use --local for the sandbox`,
    cause: error,
  });
}

function networkError(error: unknown, where: string, timeoutMs: number): BackendError {
  const e = error as {
    name?: string;
    message?: string;
    cause?: { code?: string; message?: string };
  };
  const timedOut = e.name === 'TimeoutError' || e.name === 'AbortError';
  const why = timedOut
    ? `no answer within ${timeoutMs / 1000} s`
    : (e.cause?.code ?? e.cause?.message ?? e.message ?? String(error));
  return new BackendError({
    status: 0,
    code: timedOut ? 'Timeout' : 'NetworkError',
    message: `${where}: cannot reach the API (${why}); check --endpoint or ${ENDPOINT_ENV}`,
    cause: error,
  });
}
