--[[
  Moves a message that failed maxDeliveries times to the channel's dead-letter stream, in one
  step: acknowledged in the group and recorded with its error, or neither.

  KEYS[1] the channel's stream
  KEYS[2] the channel's dead-letter stream
  ARGV[1] consumer group
  ARGV[2] id of the message in KEYS[1]
  ARGV[3] the message as stored (encoded)
  ARGV[4] the last error's message
  ARGV[5] deliveries so far
  ARGV[6] approximate length the dead-letter stream is trimmed to

  Returns the dead-letter entry id, or nil when the message was no longer pending in the group
  (another consumer acknowledged it meanwhile): nothing is written then.

  A dead-letter entry has the fields id (ARGV[2]), group, payload, error and deliveries; they
  are read back by PubSubStore.deadLetters (pubsub.store.ts), which names them in one type.
]]
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then
  return nil
end
return redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[6], '*',
  'id', ARGV[2], 'group', ARGV[1], 'payload', ARGV[3], 'error', ARGV[4], 'deliveries', ARGV[5])
