"""Benchmark signing and verifying a playback token against a bare HMAC of the same bytes.

    python benchmarks/playback_tokens.py [--n 100000] [--rounds 9]

In interleaved blocks (A B C D A B C D …) of --block calls each:

  A  ``hmac.digest(secret, signed_bytes, "sha256")``: the bare HMAC-SHA256 of exactly the bytes a
     token's MAC covers (``v1.{kid}.{exp}.{prefix}.{viewer}``), the fastest way the standard
     library has;
  B  ``playback.sign(prefix, key=…, expires_at=…, viewer=…)``: one whole token;
  C  ``playback.verify(token, path, keys, now)`` of a token seen for the first time: parse, MAC
     (constant-time compare), lifetime, a media segment's path normalised and held to the
     prefix. Every call a different token (a new viewer), on a fresh keyring;
  D  the same for a token the keyring has opened before: what each later request of a player
     costs (the lifetime and path are checked again; the MAC is not recomputed);
  E  as C, but every token opens a ladder of its own, one the keyring has not seen: C's tokens
     share one lecture's prefix, whose decoding and check the keyring remembers, as it does
     for the many viewers of one lecture; E is the first viewer of each.

It prints each side's fastest block in ns per call and B/A … E/A (target: ≤ 2×). The
fastest block of each side is the one least disturbed by the other work of these shared, noisy
machines; the ratios, not the times, are the result.

Then it counts, from the code's own rules (the default ladder and segment length, the storyboard's
tiles, the caption segments), the objects of a one-hour ladder and those one viewer fetches: what
caching by path saves, since a second viewer fetches none of them from R2 while the cache is warm.
"""

from __future__ import annotations

import argparse
import gc
import hmac
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PREFIX = "videos/123456/hls/7890-1/"
SEGMENT = PREFIX + "1080/seg_00042.m4s"
VIEWER = "user-1234567"
SECRET = "3f9c1a7e5b2d4c6e8f0a1b2c3d4e5f60718293a4b5c6d7e8f9012345678abcd"
EXPIRES_AT = 2_000_000_000
NOW = EXPIRES_AT - 4 * 3600


def block_ns(call, args_list) -> float:
    start = time.perf_counter_ns()
    for args in args_list:
        call(*args)
    return (time.perf_counter_ns() - start) / len(args_list)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--block", type=int, default=1000, help="calls per side per block")
    parser.add_argument("--blocks", type=int, default=300)
    args = parser.parse_args()

    from videoctl.domain import playback

    spec = f"k2026a:{SECRET},k2025b:{'0' * 64}"
    keys = playback.parse_keys(spec)
    viewers = [f"{VIEWER}-{n}" for n in range(args.block)]
    tokens = [playback.sign(PREFIX, key=keys.signing, expires_at=EXPIRES_AT, viewer=v) for v in viewers]
    signed = [(keys.signing.secret, t.rsplit(".", 1)[0].encode("ascii"), "sha256") for t in tokens]
    ladders = [f"videos/{123456 + n}/hls/7890-1/" for n in range(args.block)]
    firsts = [(playback.sign(ladder, key=keys.signing, expires_at=EXPIRES_AT, viewer=v), ladder + SEGMENT[len(PREFIX):])
              for ladder, v in zip(ladders, viewers, strict=True)]
    grant = playback.verify(tokens[0], SEGMENT, keys, NOW)
    assert grant.key == SEGMENT and grant.viewer == viewers[0], grant
    assert hmac.compare_digest(hmac.digest(*signed[0]), playback._unb64(tokens[0].rsplit(".", 1)[1]))

    def sign(viewer: str) -> str:
        return playback.sign(PREFIX, key=keys.signing, expires_at=EXPIRES_AT, viewer=viewer)

    warm = playback.parse_keys(spec)
    for token in tokens:
        playback.verify(token, SEGMENT, warm, NOW)
    requests = [(t, SEGMENT, warm, NOW) for t in tokens]

    print(f"token: {len(tokens[0])} characters; the MAC covers {len(signed[0][1])} bytes; "
          f"{args.blocks} blocks of {args.block} calls a side")
    best = {"bare HMAC": float("inf"), "sign": float("inf"), "verify, first use": float("inf"),
            "verify, later": float("inf"), "first, new ladder": float("inf")}
    gc.disable()  # a collection landing in one side's block would be noise, not cost
    try:
        for _ in range(args.blocks):
            cold = playback.parse_keys(spec)  # remembers nothing yet
            colder = playback.parse_keys(spec)
            measured = {
                "bare HMAC": block_ns(hmac.digest, signed),
                "sign": block_ns(sign, [(v,) for v in viewers]),
                "verify, first use": block_ns(playback.verify, [(t, SEGMENT, cold, NOW) for t in tokens]),
                "verify, later": block_ns(playback.verify, requests),
                "first, new ladder": block_ns(playback.verify, [(t, path, colder, NOW) for t, path in firsts]),
            }
            for name, ns in measured.items():
                best[name] = min(best[name], ns)
    finally:
        gc.enable()
    for name, ns in best.items():
        ratio = "" if name == "bare HMAC" else f"  {ns / best['bare HMAC']:.2f}× the bare HMAC (target ≤ 2×)"
        print(f"  {name:<18} {ns:7.0f} ns/call{ratio}")
    print_cache_arithmetic()


def print_cache_arithmetic(duration_s: int = 3600, source_height: int = 1080, languages: int = 1) -> None:
    """Objects of a ladder and of one viewer's playback, by the rules the encoder follows."""
    from videoctl.domain.ladder import choose_rungs, parse_ladder
    from videoctl.media import storyboard
    from videoctl.settings import Settings

    defaults = Settings.from_env({})
    rungs = choose_rungs(parse_ladder(defaults.ladder), source_height)
    segments = math.ceil(duration_s / defaults.segment_s)
    per_rendition = segments + 2  # the segments, the init segment, the media playlist
    renditions = len(rungs) + 1  # every video rung and the one shared audio rendition
    tiles = math.ceil(duration_s / storyboard.choose_interval(duration_s))
    sheets = math.ceil(tiles / (storyboard.COLUMNS * storyboard.ROWS))
    captions = languages * (segments + 2)  # segmented WebVTT and its playlist, and the whole track (DASH)
    pictures = 2 + 1 + sheets  # two posters, the storyboard's WebVTT and its sheets
    total = 2 + renditions * per_rendition + pictures + 1 + captions  # master, MPD, …, download.mp4
    # One viewer in hls.js at one rendition, captions on: the master, a video and the audio
    # rendition, the caption track's playlist and segments, a poster, the storyboard.
    viewer = 1 + 2 * per_rendition + (segments + 1) * languages + 1 + 1 + sheets
    print(f"a {duration_s // 60}-minute {source_height}p ladder (VIDEOCTL_LADDER {defaults.ladder}, "
          f"{defaults.segment_s} s segments, {languages} caption language): {total} objects "
          f"({renditions} renditions of {per_rendition}, {captions} caption files, {pictures} pictures, "
          f"master, MPD, MP4)")
    print(f"one viewer at one rendition fetches {viewer} of them; the first viewer's fetches fill the cache, "
          f"a second viewer's reach R2 0 times while it is warm (playlists stay 60 s, the rest a year)")


if __name__ == "__main__":
    main()
