-- Cancel: rsmq's deleteMessage of a message still in the queue (pending or running; a
-- running claim's completion is then ignored). ARGV[9] task id, ARGV[10] made message id.
local id = resolve(Q, ARGV[FIRST_ARG], ARGV[FIRST_ARG + 1])
if not id then
  return 0
end
delete_message(id, ARGV[FIRST_ARG])
return 1
