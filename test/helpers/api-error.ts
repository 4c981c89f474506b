/** For tests of api-model: the ApiError a call throws. */
import { expect } from 'vitest';
import { ApiError } from '../../lambdas/core/api-model.js';

/** Runs `fn` and returns the ApiError it throws; fails the test when it throws nothing or something else. */
export function apiError(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ApiError);
    return error as ApiError;
  }
  throw new Error('expected an ApiError, nothing was thrown');
}
