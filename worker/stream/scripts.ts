/**
 * Lua scripts for the stream changes that touch several keys or several
 * commands and must happen all at once: a crash between two separate calls
 * would either lose a notice or deliver it twice.
 */

/** Lua, prepended where needed: the value of `name` in a field/value reply such as one XINFO entry. */
const FIELD = `
local function field(entry, name)
  for i = 1, #entry, 2 do
    if entry[i] == name then return entry[i + 1] end
  end
end
`;

/**
 * requeue — replace a pending entry with a fresh copy carrying retry metadata.
 * KEYS[1] stream
 * ARGV[1] group, ARGV[2] entry id, ARGV[3] deliveries so far, ARGV[4] not-before (ms),
 * ARGV[5] last error ('' for none), ARGV[6..] field/value pairs of the notice
 * Result: the new entry id, or false when the entry was no longer pending
 * (someone else acked or claimed it, so the copy is not made).
 */
export const REQUEUE = `
local acked = redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
if acked == 0 then return false end
redis.call('XDEL', KEYS[1], ARGV[2])
local fields = {}
for i = 6, #ARGV do fields[#fields + 1] = ARGV[i] end
fields[#fields + 1] = '_deliveries'; fields[#fields + 1] = ARGV[3]
fields[#fields + 1] = '_not_before'; fields[#fields + 1] = ARGV[4]
if ARGV[5] ~= '' then fields[#fields + 1] = '_error'; fields[#fields + 1] = ARGV[5] end
return redis.call('XADD', KEYS[1], '*', unpack(fields))
`;

/**
 * dead-letter — move a pending entry to the dead-letter stream.
 * KEYS[1] stream, KEYS[2] dead-letter stream
 * ARGV[1] group, ARGV[2] entry id, ARGV[3] error, ARGV[4] deliveries, ARGV[5] now (ms),
 * ARGV[6..] field/value pairs of the entry
 * Result: the dead-letter entry id, or false when the entry was no longer pending.
 */
export const DEAD_LETTER = `
local acked = redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
if acked == 0 then return false end
redis.call('XDEL', KEYS[1], ARGV[2])
local fields = {}
for i = 6, #ARGV do fields[#fields + 1] = ARGV[i] end
fields[#fields + 1] = '_error'; fields[#fields + 1] = ARGV[3]
fields[#fields + 1] = '_deliveries'; fields[#fields + 1] = ARGV[4]
fields[#fields + 1] = '_dead_at'; fields[#fields + 1] = ARGV[5]
fields[#fields + 1] = '_source_id'; fields[#fields + 1] = ARGV[2]
return redis.call('XADD', KEYS[2], '*', unpack(fields))
`;

/**
 * remove-consumer — delete a consumer from a group only when it has nothing
 * pending, in one step, so an entry cannot be delivered to it between the
 * check and the delete (its pending entries would be dropped from the PEL).
 * KEYS[1] stream
 * ARGV[1] group, ARGV[2] consumer
 * Result: {'removed', 0}, {'refused', <pending count>}, or {'not-found', 0}
 * (also when the stream or the group does not exist).
 */
export const REMOVE_CONSUMER = `${FIELD}
local reply = redis.pcall('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])
if type(reply) == 'table' and reply.err then
  if string.find(reply.err, 'no such key', 1, true) or string.find(reply.err, 'NOGROUP', 1, true) then
    return {'not-found', 0}
  end
  return redis.error_reply(reply.err)
end
for _, consumer in ipairs(reply) do
  if field(consumer, 'name') == ARGV[2] then
    local pending = field(consumer, 'pending')
    if pending > 0 then return {'refused', pending} end
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
    return {'removed', 0}
  end
end
return {'not-found', 0}
`;

/**
 * trim-consumed — drop the entries every consumer group is done with: older
 * than each group's last-delivered id and than its oldest pending entry.
 * Computed and trimmed in one step, so no read or ack in between can move a
 * group's floor under the trim.
 * Hazards: any group counts, including one nobody reads any more (it keeps
 * the stream from shrinking; delete it rather than trim past it). Nothing at
 * or after any group's last-delivered id goes, so XINFO GROUPS still computes
 * every group's lag, which the operator scales on (the tests check this on
 * Redis 7). The trim is approximate (~): only whole stream nodes go, which is
 * cheap and never removes an entry at or past the floor.
 * KEYS[1] stream
 * ARGV: none
 * Result: {entries removed, floor id}; {0, ''} when the stream or every
 * group is missing (nothing is trimmed without a group to say what was read).
 */
export const TRIM_CONSUMED = `${FIELD}
local function parse(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return ms, seq
end
-- Compares decimal strings without turning them into (inexact) Lua numbers.
local function less_number(a, b)
  if #a ~= #b then return #a < #b end
  return a < b
end
local function less(a, b)
  local ams, aseq = parse(a)
  local bms, bseq = parse(b)
  if ams ~= bms then return less_number(ams, bms) end
  return less_number(aseq, bseq)
end
local groups = redis.pcall('XINFO', 'GROUPS', KEYS[1])
if type(groups) == 'table' and groups.err then
  if string.find(groups.err, 'no such key', 1, true) then return {0, ''} end
  return redis.error_reply(groups.err)
end
local floor = nil
for _, group in ipairs(groups) do
  local group_floor = field(group, 'last-delivered-id')
  local pending = redis.call('XPENDING', KEYS[1], field(group, 'name'))
  if pending[1] > 0 and less(pending[2], group_floor) then group_floor = pending[2] end
  if floor == nil or less(group_floor, floor) then floor = group_floor end
end
if floor == nil then return {0, ''} end
local removed = redis.call('XTRIM', KEYS[1], 'MINID', '~', floor)
return {removed, floor}
`;
