-- The rung_quality table (migration 0014): each ladder's rungs scored against the source (VMAF, PSNR-Y),
-- or the one row that says why the measurement failed.

-- name: delete_ladder_quality
-- A new measurement replaces every row of its ladder.
DELETE FROM rung_quality WHERE output_prefix = %(output_prefix)s RETURNING id;

-- name: insert_rung_quality
INSERT INTO rung_quality (video_id, job_id, attempt, output_prefix, mode, rung, width, height, bitrate_bps,
                          segments, vmaf_mean, vmaf_p5, psnr_y_mean, top_rung)
VALUES (%(video_id)s, %(job_id)s, %(attempt)s, %(output_prefix)s, %(mode)s, %(rung)s, %(width)s, %(height)s,
        %(bitrate_bps)s, %(segments)s, %(vmaf_mean)s, %(vmaf_p5)s, %(psnr_y_mean)s, %(top_rung)s)
RETURNING video_id, job_id, attempt, output_prefix, rung, width, height, bitrate_bps, mode, segments,
          vmaf_mean, vmaf_p5, psnr_y_mean, top_rung, measured_at;

-- name: insert_quality_failure
INSERT INTO rung_quality (video_id, job_id, attempt, output_prefix, mode, error_code, error_message)
VALUES (%(video_id)s, %(job_id)s, %(attempt)s, %(output_prefix)s, %(mode)s, %(error_code)s, %(error_message)s)
RETURNING video_id, job_id, attempt, output_prefix, mode, error_code, error_message, measured_at;

-- name: ladder_quality
-- Every row of one ladder: its rungs, highest first, or the failure of its measurement.
SELECT video_id, job_id, attempt, output_prefix, rung, width, height, bitrate_bps, mode, segments,
       vmaf_mean, vmaf_p5, psnr_y_mean, top_rung, error_code, error_message, measured_at
FROM rung_quality
WHERE output_prefix = %(output_prefix)s
ORDER BY height DESC NULLS LAST, width DESC, bitrate_bps DESC NULLS LAST;

-- name: stats_top_rung_vmaf
-- `stats`: the mean VMAF of each ladder's top rung measured within the window.
SELECT vmaf_mean FROM rung_quality
WHERE top_rung AND measured_at > now() - make_interval(hours => %(hours)s)
ORDER BY vmaf_mean;
