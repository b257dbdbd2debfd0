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
 * ARGV[1] group, ARGV[2] entry id, ARGV[3] deliveries so far, ARGV[4] not-before
 * (ms on Redis's clock; '' to set it from ARGV[5]), ARGV[5] delay (ms from now
 * on Redis's clock), ARGV[6] last error ('' for none), ARGV[7..] field/value
 * pairs of the notice
 * Result: the new entry id, or false when the entry was no longer pending
 * (someone else acked or claimed it, so the copy is not made).
 * Hazard: workers' clocks differ; a retry time set on the writer's clock and
 * read on another's would wait too long or not at all, so it is set here.
 */
export const REQUEUE = `
local acked = redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
if acked == 0 then return false end
redis.call('XDEL', KEYS[1], ARGV[2])
local not_before = ARGV[4]
if not_before == '' then
  local now = redis.call('TIME')
  not_before = tostring(tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) + tonumber(ARGV[5]))
end
local fields = {}
for i = 7, #ARGV do fields[#fields + 1] = ARGV[i] end
fields[#fields + 1] = '_deliveries'; fields[#fields + 1] = ARGV[3]
fields[#fields + 1] = '_not_before'; fields[#fields + 1] = not_before
if ARGV[6] ~= '' then fields[#fields + 1] = '_error'; fields[#fields + 1] = ARGV[6] end
return redis.call('XADD', KEYS[1], '*', unpack(fields))
`;

/** Lua: the milliseconds part of a stream entry id, as a number (13 digits are exact in a double). */
const ID_MS = `
local function id_ms(id)
  return tonumber(string.match(id, '^(%d+)-'))
end
`;

/**
 * dead-letter — move a pending entry to the dead-letter stream, trimmed to
 * about its maximum length, and index it by execution so a retry finds its
 * entries without scanning the stream.
 * KEYS[1] stream, KEYS[2] dead-letter stream, KEYS[3] index (hash: execution
 * key → space-separated entry ids), KEYS[4] index ages (sorted set:
 * execution key scored by the ms of its newest entry)
 * ARGV[1] group, ARGV[2] entry id, ARGV[3] error, ARGV[4] deliveries, ARGV[5] now (ms),
 * ARGV[6] maximum length, ARGV[7] execution key ('' for a malformed notice),
 * ARGV[8..] field/value pairs of the entry
 * Result: the dead-letter entry id, or false when the entry was no longer pending.
 * Hazard: the trim forgets the executions all of whose entries it removed
 * (at most 100 a call, the rest on later calls); an execution with some
 * entries left keeps the ids of trimmed ones, which a retry deletes harmlessly.
 */
export const DEAD_LETTER = `${ID_MS}
local acked = redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
if acked == 0 then return false end
redis.call('XDEL', KEYS[1], ARGV[2])
local fields = {}
for i = 8, #ARGV do fields[#fields + 1] = ARGV[i] end
fields[#fields + 1] = '_error'; fields[#fields + 1] = ARGV[3]
fields[#fields + 1] = '_deliveries'; fields[#fields + 1] = ARGV[4]
fields[#fields + 1] = '_dead_at'; fields[#fields + 1] = ARGV[5]
fields[#fields + 1] = '_source_id'; fields[#fields + 1] = ARGV[2]
local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[6], '*', unpack(fields))
if ARGV[7] ~= '' then
  local known = redis.call('HGET', KEYS[3], ARGV[7])
  redis.call('HSET', KEYS[3], ARGV[7], known and (known .. ' ' .. id) or id)
  redis.call('ZADD', KEYS[4], id_ms(id), ARGV[7])
end
local first = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)[1]
if first then
  local gone = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', '(' .. id_ms(first[1]), 'LIMIT', 0, 100)
  for _, key in ipairs(gone) do
    redis.call('HDEL', KEYS[3], key)
    redis.call('ZREM', KEYS[4], key)
  end
end
return id
`;

/**
 * remove-dead-letters — delete one execution's dead-letter entries through the index.
 * KEYS[1] dead-letter stream, KEYS[2] index, KEYS[3] index ages
 * ARGV[1] execution key
 * Result: entries deleted.
 */
export const REMOVE_DEAD_LETTERS = `
local known = redis.call('HGET', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
if not known then return 0 end
local removed = 0
for id in string.gmatch(known, '%S+') do
  removed = removed + redis.call('XDEL', KEYS[1], id)
end
return removed
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
