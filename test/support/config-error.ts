import { ConfigError } from '../../core/errors.js';

/** The ConfigError `run` throws; any other outcome fails the test. */
export function configFailure(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}
