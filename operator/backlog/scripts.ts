/**
 * remove-consumer — delete a consumer from a group only when it has nothing
 * pending, in one step, so an entry cannot be delivered to it between the
 * check and the delete (its pending entries would be dropped from the PEL).
 * KEYS[1] stream
 * ARGV[1] group, ARGV[2] consumer
 * Result: {'removed', 0}, {'refused', <pending count>}, or {'not-found', 0}
 * (also when the stream or the group does not exist).
 */
export const REMOVE_CONSUMER = `
local reply = redis.pcall('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])
if type(reply) == 'table' and reply.err then
  if string.find(reply.err, 'no such key', 1, true) or string.find(reply.err, 'NOGROUP', 1, true) then
    return {'not-found', 0}
  end
  return redis.error_reply(reply.err)
end
for _, consumer in ipairs(reply) do
  local name, pending
  for i = 1, #consumer, 2 do
    if consumer[i] == 'name' then name = consumer[i + 1] end
    if consumer[i] == 'pending' then pending = consumer[i + 1] end
  end
  if name == ARGV[2] then
    if pending > 0 then return {'refused', pending} end
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
    return {'removed', 0}
  end
end
return {'not-found', 0}
`;
