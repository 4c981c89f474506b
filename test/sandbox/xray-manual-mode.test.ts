/**
 * Issue 11 §3: the sandbox loads the X-Ray SDK in manual mode, so no cls-hooked namespace (and
 * no async hook tracking every promise) exists in its process. The handlers' tracer is off
 * outside Lambda either way, so nothing traced is lost.
 */
import { expect, it } from 'vitest';

it('importing the sandbox loads the X-Ray SDK without its async-hook namespace', async () => {
  // Act
  await import('../../sandbox/run-scenario.js');
  const runtime = await import('../../lambdas/shared/runtime.js');
  // Assert: the SDK is loaded (the tracer exists) ...
  expect(typeof runtime.tracer.captureAWSv3Client).toBe('function');
  expect(process.env.AWS_XRAY_MANUAL_MODE).toBe('1');
  // ... and created no namespace, which automatic mode does at load.
  const namespaces = (process as unknown as { namespaces?: Record<string, unknown> }).namespaces;
  expect(namespaces?.AWSXRay ?? null).toBeNull();
});
