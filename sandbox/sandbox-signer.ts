/**
 * Adaptation 11 (sandbox/adapt.ts): the sandbox's DynamoDB client does not compute SigV4
 * signatures. Dynalite checks that a request carries a well-formed `Authorization` header and
 * an `X-Amz-Date`, never the signature itself, and the sandbox's credentials are fixed, so the
 * HMAC chain (a canonical request, four HMACs and a SHA-256 of the body per call) was work for
 * nothing: about 5 % of the sandbox's CPU. This signer writes a header of the same form with a
 * placeholder signature. Only the sandbox's own client uses it; the Lambda code is unchanged.
 */

/** The parts of a smithy HttpRequest the signer touches. */
interface SignableRequest {
  headers: Record<string, string>;
}

/** A constant SigV4-shaped Authorization header: the form dynalite checks, no signature. */
export const SANDBOX_AUTHORIZATION =
  'AWS4-HMAC-SHA256 Credential=sandbox/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host;x-amz-date, Signature=unsigned-sandbox';

/** Sets the Authorization and X-Amz-Date headers without signing. */
export const sandboxSigner = {
  async sign<T extends SignableRequest>(request: T): Promise<T> {
    request.headers.authorization = SANDBOX_AUTHORIZATION;
    request.headers['x-amz-date'] = '20260101T000000Z';
    return request;
  },
};

/**
 * Client configuration for the sandbox's DynamoDBClient: the SigV4 auth scheme with fixed
 * credentials and {@link sandboxSigner} in place of the SigV4 signer.
 */
export function unsignedDynamoDbAuth(): { httpAuthSchemes: unknown[] } {
  const identity = { accessKeyId: 'sandbox', secretAccessKey: 'sandbox' };
  return {
    httpAuthSchemes: [
      {
        schemeId: 'aws.auth#sigv4',
        identityProvider: () => async () => identity,
        signer: sandboxSigner,
      },
    ],
  };
}
