"""Measure the encoding choices docs/encoding.md explains, on this machine, in one run.

    python benchmarks/encode_shapes.py [--seconds 30] [--rounds 2] [--vmaf-seconds 10]
                                       [--only shapes|vmaf|rate|bandwidth]

The reference source is the one of benchmarks/encode_ladder.py: 1080p30 with grain and
audio, about 20 Mbit/s. Sections:

  shapes     the same 4-rung ladder built five ways, each round running every shape once
             (round after round, so the machine's drift hits all alike), with the source's
             decode alone for scale. Ratios are per round against the per-rendition
             baseline of the same round; medians are printed:
               R  one complete ffmpeg per rendition, sequentially (the baseline)
               S  one process: one decode, split, each rung scaled from the source,
                  x264 picking its own threads, audio encoded with every rung
               C  S with cascaded scaling (each rung scaled from the one above)
               T  C with x264 threads 2/1/1/1
               L  T with the audio encoded once in a shared group: encode_ladder itself
             plus L with x264 threads 1/1/1/1 and with x264's automatic threads.
  vmaf       direct vs cascaded scaling: the lower rungs of each ladder (on a
             --vmaf-seconds source), upscaled to 1080p, scored by libvmaf against the
             source (model vmaf_v0.6.1, ffmpeg's default).
  rate       capped CRF (what the ladder uses) vs near-CBR at the same cap, 1080p rung
             alone, on the grainy source and on the same pattern without grain: bit rate and VMAF.
  bandwidth  the BANDWIDTH ffmpeg writes into its master playlist vs the one
             hls.finalize_master measures (video peak + the shared audio).
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from encode_ladder import Bench, Sample, load_average, measure

from videoctl.domain.ladder import DEFAULT_LADDER, choose_rungs, rung_size
from videoctl.domain.threads import ThreadPlan
from videoctl.media.binary import find_ffmpeg
from videoctl.media.encode import build_ladder_args, build_rendition_args, encode_ladder
from videoctl.media.hls import finalize_master
from videoctl.media.m3u8 import parse_master_playlist
from videoctl.media.probe import probe
from videoctl.media.sample import generate_sample_clip

_QUIET = ("-hide_banner", "-nostdin", "-v", "error", "-y")


def run(args: Sequence[str]) -> str:
    """Run ffmpeg; return its stderr (libvmaf prints its score there)."""
    return subprocess.run(list(args), check=True, stdin=subprocess.DEVNULL, capture_output=True, text=True).stderr


# ---------------------------------------------------------------------------------------
# shapes
# ---------------------------------------------------------------------------------------
def one_process_args(bench: Bench, out_dir: Path, *, cascade: bool, x264_threads: Sequence[int] | None) -> list[str]:
    """One ffmpeg, one decode, audio encoded with every rung: the shapes before the shipped one.

    Same filters and encoder settings as encode_ladder (frame rate, 4:2:0, bwdif, capped
    CRF, GOP = one segment, scene-cut off); only the scaling, threads and audio differ.
    """
    info, rungs = bench.info, bench.rungs
    sizes = [rung_size(info.width, info.height, rung.height) for rung in rungs]
    prepared = "[0:v]fps=30,format=yuv420p,bwdif=mode=send_frame:parity=auto:deint=interlaced"
    if cascade:
        chain = []
        for index, (width, height) in enumerate(sizes):
            source = f"{prepared}," if index == 0 else f"[c{index - 1}]"
            if index < len(sizes) - 1:
                chain.append(f"{source}scale={width}:{height},setsar=1,split=2[v{index}][c{index}]")
            else:
                chain.append(f"{source}scale={width}:{height},setsar=1[v{index}]")
        graph = ";".join(chain)
    else:
        outputs = "".join(f"[p{index}]" for index in range(len(sizes)))
        graph = ";".join([f"{prepared},split={len(sizes)}{outputs}"] +
                         [f"[p{index}]scale={w}:{h},setsar=1[v{index}]" for index, (w, h) in enumerate(sizes)])
    args = [bench.ffmpeg, *_QUIET, "-i", str(bench.source), "-filter_complex", graph]
    for index in range(len(rungs)):
        args += ["-map", f"[v{index}]", "-map", "0:a"]
    gop = str(30 * bench.segment_s)
    args += ["-c:v", "libx264", "-preset", bench.preset, "-crf", "23", "-g", gop, "-keyint_min", gop,
             "-sc_threshold", "0", "-c:a", "aac", "-b:a", "128k", "-ac", "2"]
    for index, rung in enumerate(rungs):
        args += [f"-maxrate:v:{index}", f"{rung.maxrate_kbps}k", f"-bufsize:v:{index}", f"{rung.bufsize_kbps}k"]
        if x264_threads is not None:
            args += [f"-threads:v:{index}", str(x264_threads[index])]
    stream_map = " ".join(f"v:{index},a:{index},name:{rung.name}" for index, rung in enumerate(rungs))
    return args + ["-f", "hls", "-hls_time", str(bench.segment_s), "-hls_playlist_type", "vod",
                   "-hls_segment_filename", str(out_dir / "%v" / "seg_%05d.ts"),
                   "-var_stream_map", stream_map, str(out_dir / "%v" / "index.m3u8")]


def shipped_with(bench: Bench, out_dir: Path, encoders: tuple[int, ...]) -> list[str]:
    """encode_ladder's command with other x264 threads (0 = x264's own choice)."""
    threads = ThreadPlan(decoder=0, filters=0, encoders=encoders)
    return build_ladder_args(bench.ffmpeg, bench.source, out_dir, bench.info, bench.rungs, threads=threads,
                             segment_s=bench.segment_s, preset=bench.preset)


def section_shapes(bench: Bench) -> None:
    def per_rendition(out_dir: Path) -> None:
        for rung in bench.rungs:
            (out_dir / rung.name).mkdir(parents=True)
        for command in build_rendition_args(bench.ffmpeg, bench.source, out_dir, bench.info, bench.rungs,
                                            segment_s=bench.segment_s, preset=bench.preset):
            run(command)

    def command(build: Callable[[Path], list[str]]) -> Callable[[Path], None]:
        def go(out_dir: Path) -> None:
            out_dir.mkdir(parents=True)
            run(build(out_dir))
        return go

    def shipped(out_dir: Path) -> None:
        encode_ladder(bench.ffmpeg, bench.source, out_dir, bench.info, bench.rungs,
                      segment_s=bench.segment_s, preset=bench.preset)

    decode = [bench.ffmpeg, *_QUIET, "-i", str(bench.source), "-an", "-f", "null", "-"]
    shapes: dict[str, Callable[[Path], None]] = {
        "decode only (no encode)": lambda out_dir: run(decode),
        "R one ffmpeg per rendition": per_rendition,
        "S one decode, split, direct scaling": command(
            lambda d: one_process_args(bench, d, cascade=False, x264_threads=None)),
        "C  + cascaded scaling": command(lambda d: one_process_args(bench, d, cascade=True, x264_threads=None)),
        "T  + x264 threads 2/1/1/1": command(
            lambda d: one_process_args(bench, d, cascade=True, x264_threads=(2, 1, 1, 1))),
        "L  + audio once (encode_ladder)": shipped,
        "L with x264 threads 1/1/1/1": command(lambda d: shipped_with(bench, d, (1, 1, 1, 1))),
        "L with x264's automatic threads": command(lambda d: shipped_with(bench, d, (0, 0, 0, 0))),
    }
    samples: dict[str, list[Sample]] = {name: [] for name in shapes}
    print(f"shapes: ladder {'/'.join(r.name for r in bench.rungs)}, preset {bench.preset}, {bench.rounds} round(s); "
          f"before: {load_average()}")
    for round_no in range(bench.rounds):
        for index, (name, shape) in enumerate(shapes.items()):
            out_dir = bench.workdir / f"shape{index}-{round_no}"
            samples[name].append(measure(lambda shape=shape, out_dir=out_dir: shape(out_dir)))
            shutil.rmtree(out_dir, ignore_errors=True)
    print(f"  after: {load_average()}")
    baseline = samples["R one ffmpeg per rendition"]
    for name, runs in samples.items():
        ratios = [base.wall_s / sample.wall_s for base, sample in zip(baseline, runs, strict=True)]
        ratio = "" if name.startswith("decode") else (
            f"   R / this {statistics.median(ratios):4.2f}x (range {min(ratios):.2f}–{max(ratios):.2f})")
        print(f"  {name:<38} wall {statistics.median(s.wall_s for s in runs):6.1f} s   "
              f"CPU {statistics.median(s.cpu_s for s in runs):6.1f} s{ratio}")


# ---------------------------------------------------------------------------------------
# vmaf and rate
# ---------------------------------------------------------------------------------------
def vmaf(bench: Bench, distorted: Path, reference: Path) -> float:
    """libvmaf (vmaf_v0.6.1) of ``distorted`` upscaled to the reference's size, frames aligned from 0."""
    width, height = bench.info.width, bench.info.height
    graph = (f"[0:v]scale={width}:{height}:flags=bicubic,setpts=PTS-STARTPTS[d];"
             f"[1:v]setpts=PTS-STARTPTS[r];[d][r]libvmaf=model=version=vmaf_v0.6.1:n_threads=2")
    stderr = run([bench.ffmpeg, "-hide_banner", "-nostdin", "-v", "info", "-i", str(distorted), "-i", str(reference),
                  "-lavfi", graph, "-f", "null", "-"])
    match = re.search(r"VMAF score: ([0-9.]+)", stderr)
    if match is None:
        raise RuntimeError(f"no VMAF score in ffmpeg's output: {stderr[-500:]}")
    return float(match.group(1))


def section_vmaf(bench: Bench) -> None:
    print(f"vmaf: direct vs cascaded scaling, {bench.info.duration_s:.0f} s source, lower rungs upscaled to "
          f"{bench.info.width}x{bench.info.height}")
    scores: dict[str, dict[str, float]] = {}
    for cascade in (False, True):
        out_dir = bench.workdir / f"vmaf-{cascade}"
        out_dir.mkdir()
        run(one_process_args(bench, out_dir, cascade=cascade, x264_threads=(2, 1, 1, 1)))
        for rung in bench.rungs[1:]:
            scores.setdefault(rung.name, {})["cascaded" if cascade else "direct"] = vmaf(
                bench, out_dir / rung.name / "index.m3u8", bench.source)
        shutil.rmtree(out_dir)
    for name, by_shape in scores.items():
        print(f"  {name:<6} direct {by_shape['direct']:6.2f}   cascaded {by_shape['cascaded']:6.2f}   "
              f"difference {by_shape['cascaded'] - by_shape['direct']:+.2f}")


def section_rate(bench: Bench) -> None:
    top = bench.rungs[0]
    modes = {
        "capped CRF 23": ["-crf", "23"],
        "near-CBR (bitrate = cap)": ["-b:v", f"{top.maxrate_kbps}k"],
    }
    clean = generate_sample_clip(bench.ffmpeg, bench.workdir / "clean.mp4", seconds=bench.info.duration_s,
                                 width=bench.info.width, height=bench.info.height, fps=30)
    print(f"rate: {top.name} alone, maxrate {top.maxrate_kbps}k, bufsize {top.bufsize_kbps}k, "
          f"{bench.info.duration_s:.0f} s sources")
    for label, source in (("grain", bench.source), ("no grain", clean)):
        for mode, options in modes.items():
            out = bench.workdir / "rate.mp4"
            run([bench.ffmpeg, *_QUIET, "-i", str(source), "-an", "-c:v", "libx264", "-preset", bench.preset,
                 *options, "-maxrate", f"{top.maxrate_kbps}k", "-bufsize", f"{top.bufsize_kbps}k",
                 "-g", "120", "-keyint_min", "120", "-sc_threshold", "0", str(out)])
            kbps = out.stat().st_size * 8 / bench.info.duration_s / 1000
            print(f"  {label:<9} {mode:<26} {kbps:7.0f} kbit/s   VMAF {vmaf(bench, out, source):6.2f}")


# ---------------------------------------------------------------------------------------
# bandwidth
# ---------------------------------------------------------------------------------------
def section_bandwidth(bench: Bench) -> None:
    out_dir = bench.workdir / "bandwidth"
    encode_ladder(bench.ffmpeg, bench.source, out_dir, bench.info, bench.rungs,
                  segment_s=bench.segment_s, preset=bench.preset)
    ffmpeg_master = parse_master_playlist((out_dir / "master.m3u8").read_text())
    ours = parse_master_playlist(finalize_master(out_dir, bench.info, bench.rungs).read_text())
    ffmpeg_bandwidth = {v.uri: int(v.attributes["BANDWIDTH"]) for v in ffmpeg_master.variants}
    print("bandwidth: ffmpeg's master vs finalize_master (measured peak video + peak audio), bit/s")
    for variant in ours.variants:
        theirs = ffmpeg_bandwidth.get(variant.uri)
        measured = int(variant.attributes["BANDWIDTH"])
        note = f"{measured / theirs:.2f}x ffmpeg's" if theirs else "not in ffmpeg's master"
        print(f"  {variant.uri:<18} ffmpeg {theirs or 0:>9}   measured {measured:>9}   {note}")
    audio_only = [v.uri for v in ffmpeg_master.variants if v.uri not in {o.uri for o in ours.variants}]
    print(f"  variants ffmpeg lists that ours does not: {audio_only or 'none'}")
    shutil.rmtree(out_dir)


SECTIONS: dict[str, Callable[[Bench], None]] = {
    "shapes": section_shapes,
    "vmaf": section_vmaf,
    "rate": section_rate,
    "bandwidth": section_bandwidth,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=30, help="reference source length (default 30)")
    parser.add_argument("--vmaf-seconds", type=float, default=10, help="source length for vmaf and rate (default 10)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of the shapes section (default 2)")
    parser.add_argument("--preset", default="veryfast", help="x264 preset (default veryfast)")
    parser.add_argument("--only", choices=tuple(SECTIONS), help="run one section")
    args = parser.parse_args()

    ffmpeg = find_ffmpeg()
    with tempfile.TemporaryDirectory(prefix="videoctl-shapes-") as tmp:
        workdir = Path(tmp)
        benches: dict[float, Bench] = {}

        def bench_of(seconds: float) -> Bench:
            if seconds not in benches:
                source = generate_sample_clip(ffmpeg, workdir / f"source-{seconds:g}.mp4", seconds=seconds,
                                              width=1920, height=1080, fps=30, noise=True)
                info = probe(source)
                benches[seconds] = Bench(ffmpeg=ffmpeg, workdir=workdir, source=source, info=info,
                                         rungs=choose_rungs(DEFAULT_LADDER, info.short_side), rounds=args.rounds,
                                         preset=args.preset)
            return benches[seconds]

        for name, section in SECTIONS.items():
            if args.only in (None, name):
                section(bench_of(args.seconds if name in ("shapes", "bandwidth") else args.vmaf_seconds))


if __name__ == "__main__":
    main()
