-- The job_attempt_usage table: what each container of each attempt held, and for how long.
-- A row is the attempt's own container (chunk -1, chunk_try 0: the one pass, or a chunked
-- attempt's lead) or one try of one of its chunks (chunk ≥ 0, chunk_try ≥ 1); callers see
-- NULL for "not a chunk".

-- name: record_attempt_usage
-- The runner's measurement of its container, once; a replay (the reply was lost) changes nothing.
INSERT INTO job_attempt_usage (job_id, attempt, chunk, chunk_try, capacity, executor_job_id, vcpus, memory_mib,
                               runtime_s, runtime_source, source_duration_s, hd_renditions, sd_renditions)
VALUES (%(job_id)s, %(attempt)s, COALESCE(%(chunk)s, -1), COALESCE(%(chunk_try)s, 0), %(capacity)s,
        %(executor_job_id)s, %(vcpus)s, %(memory_mib)s, %(runtime_s)s, 'runner', %(source_duration_s)s,
        %(hd_renditions)s, %(sd_renditions)s)
ON CONFLICT (job_id, attempt, chunk, chunk_try) DO NOTHING
RETURNING job_id;

-- name: usage_unconfirmed
-- Batch containers whose usage Batch has not confirmed yet, ended a while ago (their container
-- has stopped) and not so long ago that Batch has forgotten them (it keeps about a week).
SELECT job_id, attempt, NULLIF(chunk, -1) AS chunk, NULLIF(chunk_try, 0) AS chunk_try, executor_job_id, vcpus,
       memory_mib
FROM job_attempt_usage
WHERE runtime_source = 'runner' AND capacity <> 'local' AND executor_job_id IS NOT NULL
  AND finished_at < now() - make_interval(secs => %(settled_s)s)
  AND finished_at > now() - interval '6 days'
ORDER BY finished_at
LIMIT %(limit)s;

-- name: confirm_usage
UPDATE job_attempt_usage
SET capacity = %(capacity)s, vcpus = %(vcpus)s, memory_mib = %(memory_mib)s, runtime_s = %(runtime_s)s,
    runtime_source = 'executor'
WHERE job_id = %(job_id)s AND attempt = %(attempt)s
  AND chunk = COALESCE(%(chunk)s, -1) AND chunk_try = COALESCE(%(chunk_try)s, 0)
RETURNING job_id;

-- name: usage_of_jobs
SELECT job_id, attempt, NULLIF(chunk, -1) AS chunk, capacity, vcpus, memory_mib, runtime_s
FROM job_attempt_usage
WHERE job_id = ANY(%(job_ids)s)
ORDER BY job_id, attempt, chunk, chunk_try;

-- name: stats_usage_by_day
-- Per day and capacity: the attempts that ran, vCPU- and GB-seconds of every container (a
-- chunked attempt's lead and each try of each chunk), and the completed encodes' source seconds
-- and rendition minutes (MediaConvert's units: one row per completed encode carries them),
-- within the stats window.
SELECT date_trunc('day', finished_at) AS day, capacity,
       count(DISTINCT (job_id, attempt)) AS attempts,
       sum(vcpus * runtime_s)::float8 AS vcpu_s,
       sum(memory_mib / 1024.0 * runtime_s)::float8 AS gb_s,
       coalesce(sum(source_duration_s), 0)::float8 AS source_s,
       coalesce(sum(source_duration_s * hd_renditions), 0)::float8 / 60 AS hd_minutes,
       coalesce(sum(source_duration_s * sd_renditions), 0)::float8 / 60 AS sd_minutes
FROM job_attempt_usage
WHERE finished_at > now() - make_interval(hours => %(hours)s)
GROUP BY 1, 2
ORDER BY 1, 2;
