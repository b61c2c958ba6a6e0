"""The rung_quality table: the measured quality of each ladder's rungs, or why it could not be measured."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from videoctl.db.repositories._base import _all, _one, _Repository
from videoctl.domain.quality import QualityFailure, RungQuality


class QualityRepository(_Repository):
    """Quality of each ladder's rungs (rung_quality): measured, replaced per ladder, or failed."""

    def replace(self, output_prefix: str, *, video_id: int, job_id: int, attempt: int, mode: str,
                rungs: Sequence[dict[str, Any]]) -> list[RungQuality]:
        """The ladder's rows become *rungs* (each: rung, width, height, bitrate_bps, segments,
        vmaf_mean, vmaf_p5, psnr_y_mean, top_rung), whatever it held, in one transaction."""
        ladder = {"output_prefix": output_prefix, "video_id": video_id, "job_id": job_id, "attempt": attempt,
                  "mode": mode}
        with self._atomically():
            _all(self.conn, "delete_ladder_quality", ladder)
            return [RungQuality(**_one(self.conn, "insert_rung_quality", {**ladder, **rung})) for rung in rungs]

    def record_failure(self, output_prefix: str, *, video_id: int, job_id: int, attempt: int, mode: str,
                       error_code: str, error_message: str) -> QualityFailure:
        """The ladder's measurement failed: its rows become this one."""
        with self._atomically():
            _all(self.conn, "delete_ladder_quality", {"output_prefix": output_prefix})
            return QualityFailure(**_one(self.conn, "insert_quality_failure", {
                "output_prefix": output_prefix, "video_id": video_id, "job_id": job_id, "attempt": attempt,
                "mode": mode, "error_code": error_code, "error_message": error_message[:2000]}))

    def of_ladder(self, output_prefix: str) -> tuple[list[RungQuality], QualityFailure | None]:
        """The ladder's measured rungs, highest first, or the failure of its measurement."""
        rows = _all(self.conn, "ladder_quality", {"output_prefix": output_prefix})
        rungs = [RungQuality(**{k: v for k, v in row.items() if k not in ("error_code", "error_message")})
                 for row in rows if row["rung"] is not None]
        failed = next((row for row in rows if row["rung"] is None), None)
        failure = QualityFailure(**{name: failed[name] for name in _FAILURE_COLUMNS}) if failed else None
        return rungs, failure

    def top_rung_vmaf(self, hours: int) -> list[float]:
        """The mean VMAF of each ladder's top rung measured in the last *hours*, lowest first."""
        return [row["vmaf_mean"] for row in _all(self.conn, "stats_top_rung_vmaf", {"hours": hours})]


_FAILURE_COLUMNS = ("video_id", "job_id", "attempt", "output_prefix", "mode", "error_code", "error_message",
                    "measured_at")
