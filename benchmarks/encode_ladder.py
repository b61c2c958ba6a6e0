"""Benchmark the HLS ladder encode, side by side in one run.

    python benchmarks/encode_ladder.py [--seconds 30] [--rounds 2] [--preset veryfast] [--only a|b|d|e|f|g|h]

Generates a 1080p30 clip with grain and audio (the reference source of docs/encoding.md) in
a temporary directory, then runs each section. A section compares shapes in paired rounds
(A B A B …) so that drift of the machine hits both sides alike, and prints median wall and
CPU seconds, the CPU utilisation (CPU ÷ (wall × CPUs of the budget)) and the median and max
of the per-round ratios. CPU is that of child processes (getrusage RUSAGE_CHILDREN), i.e.
ffmpeg's.

Sections:
  (a) our one-process ladder (encode_ladder) vs one ffmpeg per rendition, sequentially.
  (b) `videoctl run-job` end to end (claim, download, probe, encode, verify, upload,
      complete; the quality measurement off, see (h)) vs the bare ffmpeg command it runs, on
      the same source.
  (c) run-job's own Python peak RSS (VmHWM of the run-job process, ffmpeg excluded) on a
      short and on the full-length source: it must not grow with the video.
  (d) the thread plan on 1 and on 2 CPUs (the process pinned with sched_setaffinity, as
      `taskset` does; ffmpeg inherits the mask and encode_ladder reads it): the planned
      threads vs the fixed plan used before (x264 2/1/1/1, ffmpeg's automatic decoder and
      filter threads). Target: utilisation ≥ 90 %, and no loss against the fixed plan.
  (e) every output run-job makes (make_outputs: CMAF ladder, poster and storyboard off the
      same decode, captions, MPD, MP4 download remux, every verification) vs the ladder
      alone (the same make_outputs with the other outputs off). Target ≤ 1.10× wall.
  (f) the ladder with CMAF (fMP4) segments vs with MPEG-TS segments. Target ≤ 1.02× wall.
  (g) our packaging (the hls muxer's CMAF ladder, then our master and MPD writers) vs
      ffmpeg's `dash` muxer writing both manifests (`hls_playlist`), on the same encode of a
      1080p/720p/360p ladder: the `dash` muxer refuses the default ladder, whose 480p rung
      is not exactly 16:9 (docs/encoding.md).

  (h) run-job's default quality measurement (VIDEOCTL_MEASURE_QUALITY=sample: 6 segments, each
      rung against the source with libvmaf) after every output vs every output alone. On a
      short source the sample is most of it; its cost does not grow with a longer one.

(b) and (c) run against a throwaway embedded PostgreSQL and local store in the temporary
directory; nothing configured in the environment is touched.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from videoctl.domain.ladder import DEFAULT_LADDER, Rung, choose_rungs
from videoctl.domain.quality import DEFAULT_SAMPLES, SAMPLE
from videoctl.domain.threads import ThreadPlan
from videoctl.media import dash, hls
from videoctl.media.binary import find_ffmpeg
from videoctl.media.cpus import cpu_budget
from videoctl.media.encode import FMP4, TS, build_ladder_args, build_rendition_args, encode_ladder, ladder_threads
from videoctl.media.probe import SourceInfo, probe
from videoctl.media.sample import generate_sample_clip
from videoctl.services.encode import OutputPlan, make_outputs
from videoctl.services.ladder_quality import measure_encoded


@dataclass(frozen=True)
class Bench:
    """Everything a section needs: the source and where to write."""

    ffmpeg: str
    workdir: Path
    source: Path
    info: SourceInfo
    rungs: tuple[Rung, ...]
    rounds: int
    preset: str
    segment_s: int = 4


@dataclass(frozen=True)
class Sample:
    wall_s: float
    cpu_s: float


def measure(run: Callable[[], object]) -> Sample:
    """Wall time of ``run`` and CPU time of the child processes it waited for."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    run()
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Sample(wall_s=wall, cpu_s=cpu)


def load_average() -> str:
    """The machine's 1-minute load, printed with results: other work on it skews them."""
    return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"


def paired(bench: Bench, a: tuple[str, Callable[[Path], object]], b: tuple[str, Callable[[Path], object]]) -> None:
    """Run A then B ``bench.rounds`` times, each into a fresh directory, and report."""
    cpus = cpu_budget().cpus
    print(f"  before: {load_average()}")
    samples: dict[str, list[Sample]] = {a[0]: [], b[0]: []}
    for round_no in range(bench.rounds):
        for name, run in (a, b):
            out_dir = bench.workdir / f"{name}-{round_no}"
            samples[name].append(measure(lambda run=run, out_dir=out_dir: run(out_dir)))
            shutil.rmtree(out_dir, ignore_errors=True)
    for name, runs in samples.items():
        wall = statistics.median(s.wall_s for s in runs)
        cpu = statistics.median(s.cpu_s for s in runs)
        utilisation = statistics.median(s.cpu_s / (s.wall_s * cpus) for s in runs)
        print(f"  {name:<40} wall {wall:7.2f} s   CPU {cpu:7.2f} s   utilisation {utilisation:4.0%} of {cpus:g} CPUs")
    print(f"  after: {load_average()}")
    ratios = [sb.wall_s / sa.wall_s for sa, sb in zip(samples[a[0]], samples[b[0]], strict=True)]
    cpu_ratios = [sb.cpu_s / sa.cpu_s for sa, sb in zip(samples[a[0]], samples[b[0]], strict=True)]
    print(
        f"  {b[0]} / {a[0]}: wall {statistics.median(ratios):.2f}x (max {max(ratios):.2f}x), "
        f"CPU {statistics.median(cpu_ratios):.2f}x"
    )


def section_ladder_vs_renditions(bench: Bench) -> None:
    """(a) One decode, split + cascaded scaling, audio once vs one ffmpeg per rendition."""

    def one_process(out_dir: Path) -> None:
        encode_ladder(bench.ffmpeg, bench.source, out_dir, bench.info, bench.rungs,
                      segment_s=bench.segment_s, preset=bench.preset)

    def per_rendition(out_dir: Path) -> None:
        for rung in bench.rungs:
            (out_dir / rung.name).mkdir(parents=True)
        for command in build_rendition_args(bench.ffmpeg, bench.source, out_dir, bench.info, bench.rungs,
                                            segment_s=bench.segment_s, preset=bench.preset):
            # stderr captured: the audio-only TS muxer warns harmlessly; a failure still raises.
            subprocess.run(command, check=True, stdin=subprocess.DEVNULL, capture_output=True)

    print(f"(a) ladder {'/'.join(r.name for r in bench.rungs)}, preset {bench.preset}, {bench.rounds} paired round(s)")
    print_source_calibration(bench)
    paired(bench, ("one process (encode_ladder)", one_process), ("one ffmpeg per rendition, sequential", per_rendition))


def print_source_calibration(bench: Bench) -> None:
    """How costly the source is to decode, next to its top rung's encode.

    The ladder's advantage is mostly decodes saved, so it depends on this proportion
    (docs/encoding.md). Printed so a run on another source can be judged.
    """
    decode = measure(lambda: subprocess.run(
        [bench.ffmpeg, "-v", "error", "-nostdin", "-i", str(bench.source), "-an", "-f", "null", "-"],
        check=True, capture_output=True))
    top = bench.rungs[:1]
    out_dir = bench.workdir / "calibration"
    (out_dir / top[0].name).mkdir(parents=True)
    [command] = build_rendition_args(bench.ffmpeg, bench.source, out_dir, bench.info, top,
                                     segment_s=bench.segment_s, preset=bench.preset)
    encode = measure(lambda: subprocess.run(command, check=True, stdin=subprocess.DEVNULL, capture_output=True))
    shutil.rmtree(out_dir, ignore_errors=True)
    bitrate = bench.info.size_bytes * 8 / bench.info.duration_s / 1e6
    print(f"  source: {bitrate:.1f} Mbit/s; decode only {decode.cpu_s:.1f} CPU s, {top[0].name} rung alone "
          f"{encode.cpu_s:.1f} CPU s: {decode.cpu_s / encode.cpu_s:.2f}")


class RunJobHarness:
    """A throwaway videoctl (embedded PostgreSQL + local store) to run real run-job processes in."""

    def __init__(self, workdir: Path) -> None:
        from videoctl.context import AppContext
        from videoctl.settings import FIELDS, Settings

        scrubbed = {k: v for k, v in os.environ.items() if not any(k in spec.env for spec in FIELDS)}
        # The quality measurement off: (b) is run-job around the encode as before; (h) measures it.
        # Chunking off: (b) compares one run-job pass with one bare ffmpeg, whatever --seconds says.
        self.env = {**scrubbed, "VIDEOCTL_HOME": str(workdir / "home"), "VIDEOCTL_LOG_FORMAT": "json",
                    "VIDEOCTL_SCRATCH_DIR": str(workdir / "scratch"), "VIDEOCTL_MEASURE_QUALITY": "off",
                    "VIDEOCTL_CHUNK_AFTER_SECONDS": "off"}
        self.ctx = AppContext(Settings.from_env(self.env))

    def job_for(self, source: Path) -> int:
        from videoctl.services.videos import add_video

        video = add_video(self.ctx.videos, self.ctx.store, videos_root="videos", path=source)
        return self.ctx.jobs.begin_attempt(self.ctx.jobs.create(video.id, max_attempts=1)).id

    def run(self, job_id: int) -> int:
        """Run `videoctl run-job` as the container would; returns its peak RSS in KiB."""
        proc = subprocess.Popen([sys.executable, "-m", "videoctl", "run-job", str(job_id)], env=self.env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        peak = [0]
        watcher = threading.Thread(target=_watch_hwm, args=(proc, peak), daemon=True)
        watcher.start()
        _, err = proc.communicate()
        watcher.join()
        if proc.returncode != 0:
            raise RuntimeError(f"run-job failed ({proc.returncode}): {err.decode()[-2000:]}")
        return peak[0]

    def close(self) -> None:
        from videoctl.db.embedded import stop_server

        self.ctx.close()
        stop_server(self.ctx.settings.pgdata)


def _watch_hwm(proc: subprocess.Popen, peak: list[int]) -> None:
    """VmHWM is the process's own high-water mark; read it until the process is gone."""
    while proc.poll() is None:
        try:
            for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak[0] = max(peak[0], int(line.split()[1]))
        except (OSError, ValueError):
            pass
        time.sleep(0.02)


def section_run_job_vs_bare_ffmpeg(bench: Bench) -> None:
    """(b) Everything run-job does around ffmpeg, as a ratio to ffmpeg alone."""
    harness = RunJobHarness(bench.workdir / "runjob")
    peaks: list[int] = []
    try:
        def bare(out_dir: Path) -> None:
            out_dir.mkdir(parents=True)
            threads = ladder_threads(bench.info, bench.rungs, cpu_budget().cpus)
            args = build_ladder_args(bench.ffmpeg, bench.source, out_dir, bench.info, bench.rungs,
                                     threads=threads, segment_s=bench.segment_s, preset=bench.preset)
            subprocess.run(args, check=True, stdin=subprocess.DEVNULL, capture_output=True)

        # Adding the video (a copy into the store) is not part of run-job: done before timing.
        job_ids = [harness.job_for(bench.source) for _ in range(bench.rounds)]

        def run_job(out_dir: Path) -> None:
            peaks.append(harness.run(job_ids.pop()))

        print(f"(b) run-job end to end vs the bare ffmpeg command, {bench.rounds} paired round(s)")
        paired(bench, ("bare ffmpeg (build_ladder_args)", bare), ("videoctl run-job", run_job))
        section_run_job_memory(bench, harness, peaks)
    finally:
        harness.close()


def section_run_job_memory(bench: Bench, harness: RunJobHarness, full_length_peaks: list[int]) -> None:
    """(c) The Python process's peak RSS, short source vs full source."""
    short = generate_sample_clip(bench.ffmpeg, bench.workdir / "short.mp4", seconds=3,
                                 width=1920, height=1080, fps=30, noise=True)
    short_peak = harness.run(harness.job_for(short))
    full_peak = max(full_length_peaks)
    print("(c) run-job Python peak RSS (ffmpeg excluded)")
    print(f"  3 s source {short_peak / 1024:7.1f} MiB   {bench.info.duration_s:.0f} s source "
          f"{full_peak / 1024:7.1f} MiB   growth {full_peak / short_peak:.2f}x")


#: The plan before threads followed the budget: x264 2/1/1/1; 0 leaves the decoder and
#: the filter graph to ffmpeg's automatic choice, as the command did not set them.
FIXED_PLAN = ThreadPlan(decoder=0, filters=0, encoders=(2, 1, 1, 1))


def section_thread_plan(bench: Bench) -> None:
    """(d) Planned threads vs the fixed plan, pinned to 1 and to 2 CPUs."""
    if len(bench.rungs) != len(FIXED_PLAN.encoders):
        print("(d) skipped: the fixed plan is for a 4-rung ladder")
        return
    mask = sorted(os.sched_getaffinity(0))

    def planned(out_dir: Path) -> None:
        encode_ladder(bench.ffmpeg, bench.source, out_dir, bench.info, bench.rungs,
                      segment_s=bench.segment_s, preset=bench.preset)

    def fixed(out_dir: Path) -> None:
        out_dir.mkdir(parents=True)
        args = build_ladder_args(bench.ffmpeg, bench.source, out_dir, bench.info, bench.rungs,
                                 threads=FIXED_PLAN, segment_s=bench.segment_s, preset=bench.preset)
        subprocess.run(args, check=True, stdin=subprocess.DEVNULL, capture_output=True)

    try:
        for count in (1, 2):
            if count > len(mask):
                print(f"(d) {count} CPUs: skipped, the process may use only {len(mask)}")
                continue
            os.sched_setaffinity(0, mask[:count])
            plan = ladder_threads(bench.info, bench.rungs, cpu_budget().cpus)
            print(f"(d) pinned to {count} CPU{'s' if count > 1 else ''}: planned threads "
                  f"x264 {'/'.join(map(str, plan.encoders))}, decoder {plan.decoder}, filters {plan.filters}; "
                  f"{bench.rounds} paired round(s)")
            paired(bench, ("planned threads (encode_ladder)", planned), ("fixed 2/1/1/1, ffmpeg's auto", fixed))
    finally:
        os.sched_setaffinity(0, mask)


def section_all_outputs(bench: Bench) -> None:
    """(e) make_outputs with everything on vs with only the ladder."""
    everything = OutputPlan(segment_s=bench.segment_s, preset=bench.preset)
    ladder_only = replace(everything, pictures=False, dash=False, download_height=None)

    def outputs(plan: OutputPlan) -> Callable[[Path], object]:
        return lambda out_dir: make_outputs(bench.ffmpeg, bench.source, out_dir, bench.info, bench.rungs, plan)

    print(f"(e) every output vs the ladder alone (make_outputs), {bench.rounds} paired round(s)")
    paired(bench, ("ladder alone", outputs(ladder_only)),
           ("ladder + poster, storyboard, MPD, MP4", outputs(everything)))


def section_fmp4_vs_ts(bench: Bench) -> None:
    """(f) The same ladder cut into MPEG-TS vs into CMAF segments."""

    def ladder(segment_format: str) -> Callable[[Path], object]:
        return lambda out_dir: encode_ladder(bench.ffmpeg, bench.source, out_dir, bench.info, bench.rungs,
                                             segment_s=bench.segment_s, preset=bench.preset,
                                             segment_format=segment_format)

    print(f"(f) CMAF (fMP4) segments vs MPEG-TS, {bench.rounds} paired round(s)")
    paired(bench, ("MPEG-TS ladder", ladder(TS)), ("CMAF (fMP4) ladder", ladder(FMP4)))


#: The `dash` muxer's options replacing the hls muxer's: 4 s segments, templates with a
#: timeline, and its HLS playlists next to the MPD.
def dash_muxer_args(hls_args: list[str], out_dir: Path, segment_s: int) -> list[str]:
    """The ladder command of ``build_ladder_args`` with the hls muxer swapped for ffmpeg's dash muxer."""
    at = hls_args.index("-f")
    head, options = hls_args[:at], hls_args[at:-1]  # the last word is the output path
    hls_only = ("-f", "-var_stream_map", "-master_pl_name")
    kept: list[str] = []
    for name, value in zip(options[::2], options[1::2], strict=True):
        if name not in hls_only and not name.startswith("-hls_"):
            kept += [name, value]
    return [*head, "-f", "dash", *kept, "-seg_duration", str(segment_s), "-use_template", "1",
            "-use_timeline", "1", "-hls_playlist", "1", "-adaptation_sets", "id=0,streams=v id=1,streams=a",
            str(out_dir / "manifest.mpd")]


def section_mpd_writer_vs_dash_muxer(bench: Bench) -> None:
    """(g) hls muxer + our master and MPD vs ffmpeg's dash muxer, same encode."""
    rungs = tuple(rung for rung in bench.rungs if rung.height in (1080, 720, 360))
    if len(rungs) < 2 or not bench.info.has_audio:
        print("(g) skipped: needs a 1080p source with audio")
        return
    threads = ladder_threads(bench.info, rungs, cpu_budget().cpus)

    def ours(out_dir: Path) -> None:
        encode_ladder(bench.ffmpeg, bench.source, out_dir, bench.info, rungs,
                      segment_s=bench.segment_s, preset=bench.preset)
        hls.finalize_master(out_dir, bench.info, rungs, ())
        dash.write_mpd(out_dir, bench.info, rungs, ())

    def dash_muxer(out_dir: Path) -> None:
        out_dir.mkdir(parents=True)
        args = build_ladder_args(bench.ffmpeg, bench.source, out_dir, bench.info, rungs, threads=threads,
                                 segment_s=bench.segment_s, preset=bench.preset)
        subprocess.run(dash_muxer_args(args, out_dir, bench.segment_s), check=True,
                       stdin=subprocess.DEVNULL, capture_output=True)
        if not (out_dir / "manifest.mpd").is_file() or not (out_dir / "master.m3u8").is_file():
            raise RuntimeError("the dash muxer wrote no manifest.mpd and master.m3u8")

    print(f"(g) ladder {'/'.join(r.name for r in rungs)}: our MPD writer vs ffmpeg's dash muxer, "
          f"{bench.rounds} paired round(s)")
    paired(bench, ("hls muxer + our master and MPD", ours), ("ffmpeg dash muxer (hls_playlist)", dash_muxer))


def section_quality_sample(bench: Bench) -> None:
    """(h) run-job's default quality measurement (6 segments, every rung) next to the outputs it follows."""
    plan = OutputPlan(segment_s=bench.segment_s, preset=bench.preset)

    def outputs(out_dir: Path) -> None:
        make_outputs(bench.ffmpeg, bench.source, out_dir, bench.info, bench.rungs, plan)

    def measured(out_dir: Path) -> None:
        outputs(out_dir)
        outcome = measure_encoded(out_dir, mode=SAMPLE, ffmpeg=bench.ffmpeg, source=bench.source, info=bench.info,
                                  workdir=out_dir.with_name(out_dir.name + "-quality"), samples=DEFAULT_SAMPLES)
        if outcome is None or outcome.error is not None:
            raise RuntimeError(f"the measurement failed: {outcome and outcome.error}")

    scored = min(DEFAULT_SAMPLES * bench.segment_s, bench.info.duration_s)
    print(f"(h) every output, then the quality sample ({DEFAULT_SAMPLES} segments of {bench.segment_s} s = "
          f"{scored:.0f} s of the {bench.info.duration_s:.0f} s source, {len(bench.rungs)} rungs), "
          f"{bench.rounds} paired round(s)")
    paired(bench, ("every output", outputs), ("every output + quality sample", measured))


# ---------------------------------------------------------------------------------------
# Sections run in this order, each with the same Bench.
# ---------------------------------------------------------------------------------------
SECTIONS: dict[str, Callable[[Bench], None]] = {
    "a": section_ladder_vs_renditions,
    "b": section_run_job_vs_bare_ffmpeg,
    "d": section_thread_plan,
    "e": section_all_outputs,
    "f": section_fmp4_vs_ts,
    "g": section_mpd_writer_vs_dash_muxer,
    "h": section_quality_sample,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=30, help="source length (default 30)")
    parser.add_argument("--rounds", type=int, default=2, help="paired rounds per section (default 2)")
    parser.add_argument("--preset", default="veryfast", help="x264 preset (default veryfast)")
    parser.add_argument("--only", choices=tuple(SECTIONS), help="run one section ((b) includes (c))")
    args = parser.parse_args()

    ffmpeg = find_ffmpeg()
    with tempfile.TemporaryDirectory(prefix="videoctl-bench-") as tmp:
        workdir = Path(tmp)
        # (b)'s embedded PostgreSQL refuses a home under a private folder (as root, pgserver
        # would open it to everyone): this one is ours and holds nothing else.
        workdir.chmod(0o755)
        print(f"generating a {args.seconds:g} s 1080p30 source with grain and audio …", flush=True)
        source = generate_sample_clip(ffmpeg, workdir / "source.mp4", seconds=args.seconds,
                                      width=1920, height=1080, fps=30, noise=True)
        info = probe(source)
        bench = Bench(ffmpeg=ffmpeg, workdir=workdir, source=source, info=info,
                      rungs=choose_rungs(DEFAULT_LADDER, info.short_side), rounds=args.rounds, preset=args.preset)
        for label, section in SECTIONS.items():
            if args.only in (None, label):
                section(bench)


if __name__ == "__main__":
    main()
