/** Time, behind an interface so a test can skew one process's clock against Redis's. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = {
  now: () => Date.now(),
};
