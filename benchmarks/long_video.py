"""Benchmark chunked encoding of a long video against one pass, and model it on Batch (#23).

    python benchmarks/long_video.py [--seconds 360] [--chunk-seconds 60] [--height 1080]
                                    [--startup-seconds 60] [--model-hours 2] [--model-chunks 60]

Generates a grainy 1080p30 source with audio (``--seconds`` long; the reference source of
docs/encoding.md) and encodes it twice through ``videoctl submit --wait`` on the local executor,
against a throwaway embedded PostgreSQL and local store, nothing configured touched:

  one pass   VIDEOCTL_CHUNK_AFTER_SECONDS=off: one run-job process encodes the whole video;
  chunked    VIDEOCTL_CHUNK_SECONDS=--chunk-seconds: the lead, then its chunks, one process per
             CPU, the last of them assembling.

Both use the fixed ladder and no quality sample, so only the chunking differs (the per-title
probe and the sample are whole-video work done once either way). It prints each side's wall
time (submit to READY) and CPU time, and the ratios chunked / one pass:

  (a) CPU ≤ 1.05×: chunking must not cost more encoding;
  (b) wall ≤ 1.05×: this machine has 2 CPUs, so no speed-up is expected here, only no loss.

CPU is every process's: this process becomes the children's subreaper (PR_SET_CHILD_SUBREAPER),
so the run-job processes the executor starts in their own sessions are reaped here and their
CPU, ffmpeg's included, counts in RUSAGE_CHILDREN.

(c) A model of time-to-READY on Batch, from what the chunked run measured (the job's and its
chunks' timestamps in the database):

  READY = start-up + download + decision + max(whole-video outputs, waves × child) + assembly
  child = start-up + download + one chunk's encode

  * start-up: a container's time from SubmitJob to running our command. There is no Batch
    here, so it is not measured: ``--startup-seconds`` (default 60 s) is an assumption (on
    Batch, the gap between a job's ``createdAt`` and ``startedAt`` in DescribeJobs), counted
    for the lead's container, then for its children's, which start together.
  * download: the source read from the bucket, by the lead and again by each child
    (``--source-mbps`` at ``--download-mbytes-per-s``, both assumptions).
  * decision: the lead's probe and decision before it sends the chunks; whole-video outputs:
    every audio rendition with its loudness, captions, poster, made by the lead while the
    chunks encode. Both measured here and scaled to the modelled length.
  * one chunk's encode: each child sized for its chunk by VIDEOCTL_SIZING's default table; the
    measured CPU-seconds per second of video, scaled to its chunk and divided by its vCPUs at
    the one-pass run's measured utilisation. The children run at once when the compute
    environment's maxvCpus holds them all beside the lead, else in waves (modelled for a cap
    that holds them all and for each ``--max-vcpus``, by default 64 and 256, VIDEO_BATCH_MAX_VCPUS's old and new defaults).
  * assembly: the manifests, the storyboard, the MP4 download's remux and the checks, measured
    here and scaled, plus reading the download rung's segments back from the bucket
    (``--download-rung-mbps``, an assumption; here they were on the local disk).

The model's inputs that were not measured here are printed with its result.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from videoctl.domain.sizing import DEFAULT_SIZING, NOMINAL_FPS, parse_sizing
from videoctl.media.binary import find_ffmpeg
from videoctl.media.sample import generate_sample_clip
from videoctl.services.pertitle import children_cpu_s

#: prctl's PR_SET_CHILD_SUBREAPER (linux/prctl.h).
PR_SET_CHILD_SUBREAPER = 36


@dataclass(frozen=True)
class Run:
    """One encode of the source, submit to READY."""

    wall_s: float
    cpu_s: float
    job: dict
    chunks: list[dict]


def become_subreaper() -> None:
    """Orphaned descendants (run-job processes in their own sessions) become our children, so
    their CPU is counted when we reap them."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def reap(pids: set[int], timeout_s: float = 120.0) -> None:
    """Wait for every process in ``pids`` to end and be reaped here (they end just after READY)."""
    deadline = time.monotonic() + timeout_s
    while pids and time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            pid = 0
        if pid:
            pids.discard(pid)
        else:
            pids -= {p for p in pids if not Path(f"/proc/{p}").exists()}
            time.sleep(0.1)
    if pids:
        raise RuntimeError(f"run-job processes still running after READY: {sorted(pids)}")


class Harness:
    """A throwaway videoctl home: embedded PostgreSQL, local store, local executor."""

    def __init__(self, workdir: Path) -> None:
        from videoctl.context import AppContext
        from videoctl.settings import FIELDS, Settings

        scrubbed = {k: v for k, v in os.environ.items() if not any(k in spec.env for spec in FIELDS)}
        self.env = {**scrubbed, "VIDEOCTL_HOME": str(workdir / "home"), "VIDEOCTL_SCRATCH_DIR": str(workdir / "scratch"),
                    "VIDEOCTL_MEASURE_QUALITY": "off", "VIDEOCTL_LADDER_MODE": "fixed"}
        # Started before this process becomes a subreaper: the database server is not ours to reap.
        self.ctx = AppContext(Settings.from_env(self.env))
        self.ctx.jobs  # noqa: B018 - opens (and migrates) the embedded database now
        self.logs = workdir / "home" / "logs"

    def videoctl(self, *args: str, env: dict[str, str]) -> dict:
        done = subprocess.run([sys.executable, "-m", "videoctl", "--json", *args], env=env, capture_output=True,
                              text=True, stdin=subprocess.DEVNULL)
        if done.returncode != 0:
            raise RuntimeError(f"videoctl {' '.join(args)} failed ({done.returncode}): {done.stderr[-2000:]}")
        return json.loads(done.stdout)["data"]

    def encode(self, source: Path, extra_env: dict[str, str]) -> Run:
        from videoctl.executor.local import parse_id

        env = {**self.env, **extra_env}
        video = self.videoctl("video", "add", str(source), env=env)
        cpu_before, started = children_cpu_s(), time.perf_counter()
        done = self.videoctl("submit", str(video["id"]), "--wait", env=env)
        wall = time.perf_counter() - started
        job = done["job"]
        if job["state"] != "SUCCEEDED":
            raise RuntimeError(f"job {job['id']} ended {job['state']}: {job.get('error_message')}")
        chunks = [row.to_dict() for row in self.ctx.chunks.of_attempt(job["id"], job["attempt"])]
        processes = {job["executor_job_id"], *(row["executor_job_id"] for row in chunks)}
        reap({parse_id(executor_id).pid for executor_id in processes if executor_id})
        return Run(wall, children_cpu_s() - cpu_before, job, chunks)


def seconds_between(start: str | datetime, end: str | datetime) -> float:
    start, end = (datetime.fromisoformat(t) if isinstance(t, str) else t for t in (start, end))
    return (end - start).total_seconds()


@dataclass(frozen=True)
class Measured:
    """What the chunked run tells the model."""

    video_s: float
    #: The lead's download, probe and decision, before it sends the chunks.
    lead_s: float
    #: The lead's whole-video outputs (audio, captions, poster), made while the chunks encode.
    whole_s: float
    chunk_walls: list[float]
    assembly_s: float

    @classmethod
    def of(cls, run: Run, video_s: float, logs: Path) -> Measured:
        rows = run.chunks
        first_sent = min(row["created_at"] for row in rows)
        last_done = max(row["finished_at"] for row in rows)
        return cls(video_s=video_s, lead_s=seconds_between(run.job["started_at"], first_sent),
                   whole_s=lead_whole_s(logs, run.job["id"]),
                   chunk_walls=[seconds_between(r["started_at"], r["finished_at"]) for r in rows],
                   assembly_s=seconds_between(last_done, run.job["finished_at"]))


def lead_whole_s(logs: Path, job_id: int) -> float:
    """How long the lead took over the whole-video outputs, as its log says."""
    for log in logs.glob("*.log"):
        for line in log.read_text(errors="replace").splitlines():
            if '"whole-video outputs made"' in line:
                record = json.loads(line)
                if record.get("job_id") == job_id:
                    return float(record["whole_s"])
    raise RuntimeError(f"no lead log of job {job_id} says how long its whole-video outputs took")


def model(measured: Measured, one_pass: Run, *, hours: float, chunks: int, height: int, startup_s: float,
          source_mbps: float, download_rung_mbps: float, download_mbytes_per_s: float,
          caps: tuple[float, ...] = ()) -> None:
    cpus = os.cpu_count() or 1
    video_s = hours * 3600
    chunk_s = video_s / chunks
    scale = video_s / measured.video_s
    width = round(height * 16 / 9)
    table = parse_sizing(DEFAULT_SIZING)
    child = table.size_for(chunk_s * width * height * NOMINAL_FPS / 1e9)  # each child sized for its chunk
    lead = table.size_for(video_s * width * height * NOMINAL_FPS / 1e9)
    utilisation = one_pass.cpu_s / (one_pass.wall_s * cpus)
    # A local chunk runs pinned to one CPU, so its wall time is its CPU time.
    cpu_per_video_s = sum(measured.chunk_walls) / measured.video_s
    download_s = video_s * source_mbps / 8 / download_mbytes_per_s
    encode_s = cpu_per_video_s * chunk_s / (child.vcpus * utilisation)
    # The assembler reads the download rung's segments back from the bucket for the MP4's remux
    # (here they were on the local disk): added, at the same read speed.
    fetch_s = video_s * download_rung_mbps / 8 / download_mbytes_per_s
    lead_s, whole_s = measured.lead_s * scale, measured.whole_s * scale
    assembly_s = measured.assembly_s * scale + fetch_s
    child_s = startup_s + download_s + encode_s
    single_s = startup_s + download_s + cpu_per_video_s * video_s / (lead.vcpus * utilisation)
    print(f"(c) model: a {hours:g}-hour {height}p30 lecture in {chunks} chunks of {chunk_s:.0f} s on Batch")
    print(f"  measured here for {measured.video_s:.0f} s of video: the lead's probe and decision {measured.lead_s:.1f} s, "
          f"its whole-video outputs {measured.whole_s:.1f} s (beside the chunks), the assembly "
          f"{measured.assembly_s:.1f} s; the chunks {cpu_per_video_s:.2f} CPU-s per second of video; one pass's "
          f"utilisation {utilisation:.0%} of {cpus} CPUs")
    print(f"  assumed: a container's start-up {startup_s:.0f} s (not measured: no Batch here); the source "
          f"{source_mbps:g} Mbit/s, read at {download_mbytes_per_s:g} MB/s by the lead and by each child, the "
          f"download rung's segments ({download_rung_mbps:g} Mbit/s) read back by the assembler; each child "
          f"{child} (VIDEOCTL_SIZING's default for its chunk; the lead {lead}), at the measured utilisation; "
          f"the lead's and the assembly's work grows with the video's length")
    everyone = chunks * child.vcpus + lead.vcpus
    for max_vcpus in sorted({everyone, *caps}):
        # The lead holds its vCPUs while it makes the whole-video outputs; the children share the rest,
        # in waves when they do not all fit (each wave starts its containers and reads the source again).
        at_once = max(int((max_vcpus - lead.vcpus) // child.vcpus), 1)
        waves = -(-chunks // at_once)
        ready_s = startup_s + download_s + lead_s + max(whole_s, waves * child_s) + assembly_s
        print(f"  maxvCpus {max_vcpus:g}: {min(at_once, chunks)} children at once, {waves} wave(s): start-up "
              f"{startup_s:.0f} s + download {download_s:.0f} s + probe and decision {lead_s:.0f} s + max(whole-video "
              f"outputs {whole_s:.0f} s, {waves} × (start-up {startup_s:.0f} s + download {download_s:.0f} s + chunk "
              f"encode {encode_s:.0f} s)) + assembly {assembly_s:.0f} s (reading the download rung back "
              f"{fetch_s:.0f} s of it) = READY {ready_s / 60:.1f} min after submit (goal ≤ 10 min)")
    print(f"  one pass on the lead's container: {single_s / 60:.0f} min")

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=360)
    parser.add_argument("--source", type=Path, help="encode this file instead of generating one (--seconds long)")
    parser.add_argument("--chunk-seconds", type=int, default=60)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--startup-seconds", type=float, default=60)
    parser.add_argument("--model-hours", type=float, default=2)
    parser.add_argument("--model-chunks", type=int, default=60)
    parser.add_argument("--source-mbps", type=float, default=5, help="the modelled lecture's source bitrate")
    parser.add_argument("--max-vcpus", type=float, action="append", default=[],
                        help="a compute environment's maxvCpus to model (repeatable; also modelled: enough for all)")
    parser.add_argument("--download-rung-mbps", type=float, default=3,
                        help="the bitrate of the rung the MP4 download is remuxed from")
    parser.add_argument("--download-mbytes-per-s", type=float, default=100,
                        help="a container's read speed from the bucket")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="videoctl-bench-long-") as tmp:
        workdir = Path(tmp)
        workdir.chmod(0o755)  # as root the embedded server refuses a private folder above its data
        width = round(args.height * 16 / 9) // 2 * 2
        if args.source:
            source = args.source
        else:
            print(f"generating a {args.seconds:g} s {width}x{args.height} source with grain and audio …", flush=True)
            source = generate_sample_clip(find_ffmpeg(), workdir / "source.mp4", seconds=args.seconds, width=width,
                                          height=args.height, noise=True)
        harness = Harness(workdir)
        become_subreaper()
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs", flush=True)
        one_pass = harness.encode(source, {"VIDEOCTL_CHUNK_AFTER_SECONDS": "off"})
        print(f"  one pass   wall {one_pass.wall_s:7.1f} s   CPU {one_pass.cpu_s:7.1f} s", flush=True)
        chunked = harness.encode(source, {"VIDEOCTL_CHUNK_AFTER_SECONDS": "0",
                                          "VIDEOCTL_CHUNK_SECONDS": str(args.chunk_seconds)})
        if not chunked.job.get("chunks"):
            raise RuntimeError("the chunked run was encoded in one pass")
        print(f"  chunked    wall {chunked.wall_s:7.1f} s   CPU {chunked.cpu_s:7.1f} s   "
              f"({chunked.job['chunks']} chunks of {args.chunk_seconds} s)")
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        print(f"(a) CPU  chunked / one pass: {chunked.cpu_s / one_pass.cpu_s:.3f}x (goal ≤ 1.05)")
        print(f"(b) wall chunked / one pass: {chunked.wall_s / one_pass.wall_s:.3f}x (goal ≤ 1.05)")
        model(Measured.of(chunked, args.seconds, harness.logs), one_pass, hours=args.model_hours,
              chunks=args.model_chunks, height=args.height, startup_s=args.startup_seconds,
              source_mbps=args.source_mbps, download_rung_mbps=args.download_rung_mbps,
              download_mbytes_per_s=args.download_mbytes_per_s, caps=tuple(args.max_vcpus or [64, 256]))


if __name__ == "__main__":
    main()
