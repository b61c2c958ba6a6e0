"""Rendering for every command: rich for people, one JSON document for scripts.

With ``--json`` stdout carries exactly one object: ``{"data": …}`` on
success or ``{"error": {"code", "message", "hint"}}`` on failure. Progress
bars, spinners and hints go to stderr so they never mix with it.

Each command declares the type of its ``data`` with :func:`document`: the JSON
contract is that type (a record, a TypedDict, a list of them), written down once;
tests/e2e/test_json_contract.py holds every command's output to it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields, is_dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from videoctl.domain import ranges
from videoctl.domain.errors import VideoctlError
from videoctl.domain.executor import LOCAL_ID_PREFIX
from videoctl.domain.text import clock_position, visible

if TYPE_CHECKING:
    from videoctl.domain.chunk_progress import ChunkProgress
    from videoctl.domain.models import Job, Video
    from videoctl.domain.quality import QualityFailure, RungQuality

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]

#: Ids are PostgreSQL bigints: anything outside 1 … 2⁶³−1 is refused as a usage error before
#: it reaches the database.
MAX_ID = ranges.MAX_ID
#: The most rows one command reads or acts on at once.
MAX_LIMIT = 100_000


@dataclass
class OutputState:
    json: bool = False
    verbose: int = 0


STATE = OutputState()
#: No emoji codes: an id such as ``local:100:1`` is shown as it is, not with a 💯 in it.
stdout = Console(soft_wrap=True, emoji=False)
stderr = Console(stderr=True, emoji=False)


F = TypeVar("F", bound=Callable[..., Any])


def document(*output_types: Any) -> Callable[[F], F]:
    """Declare the type of a command's ``--json`` data: one type, or one per mode of the
    command (``--dry-run`` prints a plan, say), of which each document is exactly one.

    A type from a module the CLI must not import at start-up (services import psycopg)
    is named as ``"module:Name"`` and resolved by :func:`document_types`.
    """

    def mark(command: F) -> F:
        command.__json_documents__ = output_types  # type: ignore[attr-defined]
        return command

    return mark


def document_types(command: Callable[..., Any]) -> tuple[Any, ...]:
    """The declared ``--json`` data types of a command function (empty if it declares none)."""
    import importlib

    resolved = []
    for declared in getattr(command, "__json_documents__", ()):
        if isinstance(declared, str):
            module, _, name = declared.partition(":")
            declared = getattr(importlib.import_module(module), name)
        resolved.append(declared)
    return tuple(resolved)


def json_mode(local_flag: bool = False) -> bool:
    """The command's own ``--json`` or the global one."""
    if local_flag:
        STATE.json = True
    return STATE.json


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Decimal):
        return float(value)
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if is_dataclass(value):  # a declared result type: its fields, by name
        return {f.name: getattr(value, f.name) for f in fields(value)}
    raise TypeError(f"cannot serialise {type(value).__name__}")


def dumps(document: Any) -> str:
    return json.dumps(document, default=_default, indent=2)


def success(data: Any, render: Callable[[], None] | None = None, *, json_flag: bool = False) -> None:
    """Finish a command: JSON document, or the human rendering."""
    if json_mode(json_flag):
        sys.stdout.write(dumps({"data": data}) + "\n")
    elif render is not None:
        render()


def drain_failed(failures: Sequence[tuple[str, VideoctlError]], summary: str, hint: str) -> VideoctlError:
    """An outbox drain's failures (what failed, why) as one error of the first one's kind,
    naming up to five, for the command to raise: its exit code is the first cause's. The
    hint is the first cause's remedy, then what to do about the pending rows."""
    first = failures[0][1]
    detail = "; ".join(f"{what}: {error.code}: {error.message}" for what, error in failures[:5])
    return type(first)(f"{summary}: {detail}", hint=f"{first.hint}; then {hint}" if first.hint else hint)


def render_error(exc: VideoctlError) -> None:
    if STATE.json:
        sys.stdout.write(dumps({"error": exc.to_dict()}) + "\n")
        return
    stderr.print(f"[bold red]error[/] [dim]({exc.code})[/]: {safe(exc.message)}", highlight=False)
    if exc.hint:
        stderr.print(f"[dim]hint:[/] {safe(exc.hint)}", highlight=False)


# ---------------------------------------------------------------- terminal safety

class Markup(str):
    """Text of ours that carries rich markup on purpose; :func:`fmt` leaves it as it is."""


def safe(value: Any) -> str:
    """Any text that came from outside (a title, a reason, a key, an error message, what AWS
    said) as a person's terminal may show it: control characters written out as escapes
    (``\\x1b``), and rich markup taken literally."""
    from rich.markup import escape

    return escape(visible(str(value)))


def info(message: str) -> None:
    """A note for people; silent in JSON mode."""
    if not STATE.json:
        stderr.print(message, highlight=False)


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    grid = Table(title=title, title_justify="left", header_style="bold")
    for column in columns:
        grid.add_column(column, overflow="fold")
    for row in rows:
        grid.add_row(*(fmt(v) for v in row))
    stdout.print(grid)


def fmt(value: Any) -> str:
    if value is None:
        return "[dim]-[/]"
    if isinstance(value, Markup):
        return value
    if isinstance(value, datetime):
        return value.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return safe(value)


def loudness_text(decision: dict[str, Any] | None, measurements: dict[str, Any] | None) -> str | None:
    """Each audio rendition's loudness in, the gain applied and the loudness out, a line each."""
    tracks = (measurements or {}).get("loudness") or (decision or {}).get("loudness")
    if not tracks:
        return None

    def level(values: dict[str, Any] | None) -> str:
        values = values or {}
        lufs, peak = values.get("integrated_lufs"), values.get("true_peak_dbtp")
        return (f"{lufs:.1f} LUFS" if lufs is not None else "silent") + (f" / {peak:.1f} dBTP" if peak is not None else "")

    lines = []
    for track in tracks:
        line = f"{track['rendition']}: {level(track.get('input'))}, gain {track.get('gain_db', 0):+.1f} dB"
        if track.get("limiter_dbfs") is not None:
            line += ", limiter"
        if "output" in track:
            line += f" → {level(track['output'])}"
        lines.append(line)
    return "\n".join(lines)


def ladder_text(decision: dict[str, Any] | None) -> str | None:
    """The ladder decision: its mode, target, each rung's CRF, the dropped rungs, the probe's measured points."""
    ladder = (decision or {}).get("ladder")
    if not isinstance(ladder, dict):
        return None
    crfs = ", ".join(f"{name} CRF {crf}" for name, crf in (ladder.get("crf") or {}).items())
    if ladder.get("mode") != "per-title":
        return f"{ladder.get('mode')}: {crfs}"
    dropped = ladder.get("dropped") or []
    lines = [f"per-title, target VMAF {ladder.get('target'):g}: {crfs}"
             + (f"; dropped {', '.join(dropped)}" if dropped else "")]
    lines += [f"probe CRF {p['crf']}: VMAF {p['vmaf']:.1f} (p5 {p['vmaf_p5']:.1f}), {p['kbps']:.0f} kbit/s"
              for p in ladder.get("points") or []]
    if ladder.get("probe_cpu_s") is not None:
        lines.append(f"probe {ladder['probe_cpu_s']:.1f} CPU-s over {len(ladder.get('pieces') or [])} piece(s)")
    return "; ".join(lines)  # one line: a table cell shows a newline escaped


def size_text(job: Job) -> str | None:
    """The container size the job's current attempt asked for, or why it asked for none."""
    if job.size is not None:
        return f"{job.size} (sized to its source)"
    if not job.executor_job_id:
        return None  # not sent yet
    if job.executor_job_id.startswith(LOCAL_ID_PREFIX):
        return "none: a local process is not sized"
    return "the job definition's (the source is not probed yet, or VIDEOCTL_SIZING is off)"


def fields_table(title: str, record: dict[str, Any]) -> None:
    """One object as a two-column key/value table."""
    table(title, ("field", "value"), record.items())


class ProgressBar:
    """A rich progress bar on stderr when a person is watching; silent otherwise."""

    def __init__(self, description: str, *, total: float = 100) -> None:
        from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

        self.enabled = stderr.is_terminal and not STATE.json
        self._progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn(),
            console=stderr, transient=False, disable=not self.enabled,
        )
        self._total = total
        self._tasks = {"main": self._progress.add_task(description, total=total)}

    def __enter__(self) -> ProgressBar:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def update(self, completed: float, description: str | None = None, *, task: str = "main") -> None:
        """Move a bar: the first, or another one named *task*, added below at its first update."""
        fields = {"description": description} if description else {}
        if task not in self._tasks:
            self._tasks[task] = self._progress.add_task(description or task, total=self._total)
        self._progress.update(self._tasks[task], completed=completed, **fields)


# ---------------------------------------------------------------- sparklines

_BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float]) -> str:
    """One character per value, scaled to the largest; nothing at all (a space) for zero,
    so quiet stretches read as gaps."""
    top = max(values, default=0)
    if top <= 0:
        return " " * len(values)
    return "".join(" " if v <= 0 else _BARS[min(len(_BARS) - 1, int(v / top * (len(_BARS) - 1) + 0.5))]
                   for v in values)


# ---------------------------------------------------------------- shared tables

JOB_COLUMNS = ("id", "video", "state", "attempt", "progress", "executor job", "error", "updated")
VIDEO_COLUMNS = ("id", "title", "status", "duration", "size", "hls_path", "created")


def job_row(j: Job) -> tuple:
    error = f"{j.error_code}: {j.error_message}" if j.error_code else None
    return (j.id, j.video_id, j.state, f"{j.attempt}/{j.max_attempts}", job_progress_text(j),
            j.executor_job_id, error, j.updated_at)


def job_progress_text(j: Job) -> str:
    """'42% · 3m10s left' for a running job, '#3 in line · RUNNABLE' for a waiting one, and for
    a chunked one running its chunks 'chunks 5/12 done, 3 running · 41.7% · 3m10s left'."""
    eta, position, status, chunks = (getattr(j, name, None) for name in
                                      ("eta_s", "queue_position", "executor_status", "chunk_progress"))
    if chunks is not None and chunks.done < chunks.total and j.state == "RUNNING":
        parts = [chunks.summary, f"{chunks.percent:g}%"]
    else:
        parts = [f"{j.progress}%"] if position is None else [f"#{position} in line"]
    if eta is not None:
        parts.append(f"{duration_text(eta)} left")
    if status:
        parts.append(status)
    return " · ".join(parts)


def duration_text(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def clock_text(seconds: float | None) -> str:
    """A position in a video: '2:05', '1:02:03'."""
    return "end" if seconds is None else clock_position(seconds)


def chunks_text(chunks: ChunkProgress) -> str:
    """'chunks 5/12 done, 3 running, 1 retrying · 41.7% · 3m10s left, 3 at once'."""
    parts = [chunks.summary, f"{chunks.percent:g}%"]
    if chunks.eta_s is not None and chunks.done < chunks.total:
        parts.append(f"{duration_text(chunks.eta_s)} left, {chunks.parallelism} at once")
    return " · ".join(parts)


def chunks_table(chunks: ChunkProgress) -> None:
    """Each chunk of the attempt: its range, state, tries, container, heartbeat, run time and progress."""
    def container(c) -> str | None:
        if c.runner_id and c.runner_id != c.executor_job_id:
            return f"{c.executor_job_id or '-'} ({c.runner_id})"
        return c.executor_job_id

    def state(c) -> str:
        if c.error_code:
            return f"{c.state.value}: {c.error_code}: {c.error_message or ''}"
        return c.state.value

    table(f"chunks of attempt {chunks.attempt}", ("chunk", "range", "state", "tries", "container (runner)", "size",
                                                 "heartbeat", "run time", "progress"),
          ((c.index, f"{clock_text(c.start_s)}–{clock_text(c.end_s)}",
            state(c) + (f", again at {fmt(c.next_try_at)}" if c.next_try_at else ""), c.tries, container(c), c.size,
            None if c.heartbeat_age_s is None else f"{duration_text(c.heartbeat_age_s)} ago",
            None if c.elapsed_s is None else duration_text(c.elapsed_s), f"{c.progress}%")
           for c in chunks.chunks))


def video_row(v: Video) -> tuple:
    duration = f"{v.duration_s:.1f}s" if v.duration_s else None
    size = f"{v.width}x{v.height}" if v.width else None
    return (v.id, v.title, v.status, duration, size, v.hls_path, v.created_at)


def job_progress(job_id: int) -> tuple[ProgressBar, Callable[[Job], None]]:
    """A progress bar for following a job, and the update that moves it (with the ETA or the
    place in line when the job carries them). A chunked attempt adds a bar for its chunks."""
    bar = ProgressBar(f"job {job_id}")

    def update(j: Job) -> None:
        bar.update(j.progress, f"job {j.id} {j.state} {job_progress_text(j)}")
        chunks = getattr(j, "chunk_progress", None)
        if chunks is not None:
            bar.update(chunks.percent, f"{chunks_text(chunks)}", task="chunks")

    return bar, update


def quality_table(rungs: Sequence[RungQuality], failure: QualityFailure | None = None) -> None:
    """The rungs of one ladder as scored (`quality`, `video show`), or why its measurement failed."""
    if failure is not None:
        stdout.print(f"[yellow]the quality measurement ({failure.mode}) of ladder {safe(failure.output_prefix)} "
                     f"failed: {safe(failure.error_code)}: {safe(failure.error_message)}[/]\n"
                     f"`videoctl quality {failure.video_id}` measures it again", highlight=False)
        return
    if not rungs:
        return
    first = rungs[0]
    how = "every frame" if first.mode == "full" else f"{first.segments} segment(s) spread over the video"
    table(f"quality of ladder {first.output_prefix} ({how}; {fmt(first.measured_at)})",
          ("rung", "size", "bitrate", "VMAF mean", "VMAF p5", "PSNR-Y dB"),
          ((Markup(f"{safe(r.rung)} [bold](top)[/]") if r.top_rung else r.rung, f"{r.width}x{r.height}",
            f"{r.bitrate_bps / 1000:.0f} kbit/s" if r.bitrate_bps else None, r.vmaf_mean, r.vmaf_p5, r.psnr_y_mean)
           for r in rungs))
