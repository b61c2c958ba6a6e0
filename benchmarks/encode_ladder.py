"""Benchmark the HLS ladder encode, side by side in one run.

    python benchmarks/encode_ladder.py [--seconds 30] [--rounds 2] [--preset veryfast]

Generates a 1080p30 clip with grain and audio (like /work/shared/ENCODING.md) in a temporary
directory, then runs each section. A section compares shapes in paired rounds (A B A B …)
so that drift of the machine hits both sides alike, and prints median wall and CPU seconds
and the median and max of the per-round ratios. CPU is that of child processes
(getrusage RUSAGE_CHILDREN), i.e. ffmpeg's.

Sections:
  (a) our one-process ladder (encode_ladder) vs one ffmpeg per rendition, sequentially.
  (b), (c): see SECTIONS at the bottom.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from videoctl.domain.ladder import DEFAULT_LADDER, Rung, choose_rungs
from videoctl.media.binary import find_ffmpeg
from videoctl.media.encode import AUDIO_NAME, build_rendition_args, encode_ladder
from videoctl.media.probe import SourceInfo, probe
from videoctl.media.sample import generate_sample_clip


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


def paired(bench: Bench, a: tuple[str, Callable[[Path], object]], b: tuple[str, Callable[[Path], object]]) -> None:
    """Run A then B ``bench.rounds`` times, each into a fresh directory, and report."""
    samples: dict[str, list[Sample]] = {a[0]: [], b[0]: []}
    for round_no in range(bench.rounds):
        for name, run in (a, b):
            out_dir = bench.workdir / f"{name}-{round_no}"
            samples[name].append(measure(lambda: run(out_dir)))
            shutil.rmtree(out_dir, ignore_errors=True)
    for name, runs in samples.items():
        wall = statistics.median(s.wall_s for s in runs)
        cpu = statistics.median(s.cpu_s for s in runs)
        print(f"  {name:<40} wall {wall:7.2f} s   CPU {cpu:7.2f} s")
    ratios = [sb.wall_s / sa.wall_s for sa, sb in zip(samples[a[0]], samples[b[0]])]
    cpu_ratios = [sb.cpu_s / sa.cpu_s for sa, sb in zip(samples[a[0]], samples[b[0]])]
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
        for rung_dir in [*(rung.name for rung in bench.rungs), AUDIO_NAME]:
            (out_dir / rung_dir).mkdir(parents=True)
        for command in build_rendition_args(bench.ffmpeg, bench.source, out_dir, bench.info, bench.rungs,
                                            segment_s=bench.segment_s, preset=bench.preset):
            # stderr captured: the audio-only TS muxer warns harmlessly; a failure still raises.
            subprocess.run(command, check=True, stdin=subprocess.DEVNULL, capture_output=True)

    print(f"(a) ladder {'/'.join(r.name for r in bench.rungs)}, preset {bench.preset}, {bench.rounds} paired round(s)")
    paired(bench, ("one process (encode_ladder)", one_process), ("one ffmpeg per rendition, sequential", per_rendition))


# ---------------------------------------------------------------------------------------
# Sections run in this order, each with the same Bench. Add new ones here:
#   (b) run-job end-to-end vs bare ffmpeg on the same source  — to be added by the lead
#   (c) run-job Python peak RSS                               — to be added by the lead
# ---------------------------------------------------------------------------------------
SECTIONS: tuple[Callable[[Bench], None], ...] = (section_ladder_vs_renditions,)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=30, help="source length (default 30)")
    parser.add_argument("--rounds", type=int, default=2, help="paired rounds per section (default 2)")
    parser.add_argument("--preset", default="veryfast", help="x264 preset (default veryfast)")
    args = parser.parse_args()

    ffmpeg = find_ffmpeg()
    with tempfile.TemporaryDirectory(prefix="videoctl-bench-") as tmp:
        workdir = Path(tmp)
        print(f"generating a {args.seconds:g} s 1080p30 source with grain and audio …", flush=True)
        source = generate_sample_clip(ffmpeg, workdir / "source.mp4", seconds=args.seconds,
                                      width=1920, height=1080, fps=30, noise=True)
        info = probe(source)
        bench = Bench(ffmpeg=ffmpeg, workdir=workdir, source=source, info=info,
                      rungs=choose_rungs(DEFAULT_LADDER, info.height), rounds=args.rounds, preset=args.preset)
        for section in SECTIONS:
            section(bench)


if __name__ == "__main__":
    main()
