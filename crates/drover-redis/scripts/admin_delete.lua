-- Delete task ARGV[7] unless it is running (its worker still holds the lease): its hash, its
-- index entries, its unique key and its concurrency key's entries. Returns 1 if deleted, 0 if
-- it is running or unknown. (The admin's delete; see src/admin.rs.)
local id = ARGV[7]
local key = task_key(id)
local f = redis.call('HMGET', key, 's', 'k', 'ra', 'ck')
local status = f[1]
if not status or status == 'running' then return 0 end
if status == 'pending' then
  redis.call('ZREM', K_READY, ready_member(tonumber(f[3]), id))
  redis.call('ZREM', K_SCHEDULED, id)
  release_unique(f[2], id)
elseif FINISHED[status] then
  redis.call('ZREM', FINISHED[status], id)
end
if f[4] then
  redis.call('ZREM', PREFIX .. ':ck:' .. f[4], id)
  redis.call('ZREM', PREFIX .. ':ckr:' .. f[4], id)
end
redis.call('ZREM', K_IDS, id)
redis.call('UNLINK', key)
return 1
