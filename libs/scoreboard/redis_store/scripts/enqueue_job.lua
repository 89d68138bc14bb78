-- Enqueue one arq job unless a job of that id is queued or has a result, as arq's enqueue_job
-- does (redis_store/job_queue.py writes the job in arq's format).
-- KEYS: job key, result key, queue.
-- ARGV: job id, serialized job, score (ms), expiry (ms).
-- Returns 1 when enqueued, 0 when that job id was there already.
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('PSETEX', KEYS[1], ARGV[4], ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
return 1
