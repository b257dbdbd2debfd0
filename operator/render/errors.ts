/**
 * A spec the operator will not render. `reason` is the stable CamelCase code
 * for the Ready condition and the Event; only a spec change fixes it.
 */
export class PoolSpecError extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'PoolSpecError';
  }
}
