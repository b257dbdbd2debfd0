/**
 * Lua scripts that take, extend and release many execution locks in one
 * round trip. Each key is independent: one held elsewhere does not keep the
 * others from being taken. A lock is a key holding its holder's token with
 * a time-to-live.
 */

/**
 * lock-many — take every free lock.
 * KEYS[1..n] lock keys
 * ARGV[1] token, ARGV[2] time-to-live (ms)
 * Result: a list of n flags, 1 where the lock was taken, 0 where another
 * holder has it.
 */
export const LOCK_MANY = `
local taken = {}
for i, key in ipairs(KEYS) do
  if redis.call('SET', key, ARGV[1], 'NX', 'PX', ARGV[2]) then
    taken[i] = 1
  else
    taken[i] = 0
  end
end
return taken
`;

/**
 * extend-many — renew the time-to-live of the locks still held with this token.
 * KEYS[1..n] lock keys
 * ARGV[1] token, ARGV[2] time-to-live (ms)
 * Result: a list of n flags, 1 where renewed, 0 where the lock was lost
 * (expired, or taken by another holder).
 */
export const EXTEND_MANY = `
local kept = {}
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    redis.call('PEXPIRE', key, ARGV[2])
    kept[i] = 1
  else
    kept[i] = 0
  end
end
return kept
`;

/**
 * release-many — delete the locks held with this token.
 * KEYS[1..n] lock keys
 * ARGV[1] token
 * Result: how many were deleted (a lock lost meanwhile is left alone).
 */
export const RELEASE_MANY = `
local released = 0
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    redis.call('DEL', key)
    released = released + 1
  end
end
return released
`;
