"""Benchmark `videoctl reconcile` over 100 000 videos and about 1 000 000 objects, in a local store and moto S3.

    python benchmarks/reconcile.py [--videos 100000] [--stores local,s3] [--rounds 1]

Builds a throwaway embedded PostgreSQL with READY videos, each with a source and a one-rung
ladder with audio (master, two media playlists, six segments: ten objects a video); one video
in 100 misses a segment (a broken ladder), one in 100 left a replaced ladder behind and one in
1 000 has a folder beside it that is no video's (orphan prefixes, three days old). The same
objects go into each store, a quarter of the videos first, then all of them. For each size and
store two child processes run, so that each peak RSS is its own:

- the bare listing of the store: the least any comparison must do (the baseline);
- reconcile without --fix: the listing merged with the videos read in key order, and every
  playlist of every ladder read back (three GETs a video).

It prints objects/s for both, reconcile ÷ listing, reconcile's peak RSS, what it found (so a
run that found nothing is no figure), and across the two sizes the time ratio over the object
ratio: 1.0 is linear. Targets: ≤ 200 MiB peak RSS, time linear in objects.

The local store's million files are hard links to one file per distinct content (ladders name
their files relatively, so every master is the same bytes), which costs directory entries only.
moto S3 runs as a server in a process of its own (its S3 app alone), on loopback, so requests
are real HTTP and botocore parses real pages of 1 000 keys. Its backend is filled in its process (a million PUTs
over HTTP would take hours), with keys that share one prototype object per distinct content.
moto's ListObjectsV2 sorts the whole bucket for every page (quadratic: hours for a million keys),
so the server's is replaced by a bisect over the keys sorted once; what is measured is videoctl.
"""

from __future__ import annotations

import argparse
import errno
import itertools
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from functools import cache
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.ladders

BUCKET = "videos-bench"
ROOT = "videos/"
THREE_DAYS_AGO = time.time() - 3 * 86_400


# ---------------------------------------------------------------- the objects


@cache
def one_rung_ladder() -> dict[str, bytes]:
    from tests.ladders import ladder_files

    return ladder_files(rungs=(("360p", "640x360", 800_000),), segments=3)


def objects_of(video_id: int):
    """(key, content) of every object of one video, drift included."""
    ladder = one_rung_ladder()
    yield f"{ROOT}{video_id}/source/a.mp4", b"source"
    for name, data in ladder.items():
        if video_id % 100 == 0 and name == "audio/seg_00002.ts":
            continue  # a broken ladder
        yield f"{ROOT}{video_id}/hls/{video_id}-1/{name}", data
    if video_id % 100 == 50:  # a replaced ladder nobody deleted
        for name, data in ladder.items():
            yield f"{ROOT}{video_id}/hls/{video_id}-2/{name}", data
    if video_id % 1000 == 0:  # beside the videos, a folder that is no video's
        yield f"{ROOT}tmp-{video_id}/a.bin", b"source"


VIDEOS_SQL = """
INSERT INTO video (id, title, source_key, status, hls_path, size_bytes)
SELECT i, 'bench', 'videos/' || i || '/source/a.mp4', 'READY', 'videos/' || i || '/hls/' || i || '-1/master.m3u8', 6
FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS i
"""


def build_local(root: Path, first: int, last: int) -> int:
    """Hard links to one file per distinct content; returns the objects made.

    A file system caps the links to one inode (ext4: 65 000), so a template that reaches
    the cap is replaced by a fresh copy of the same bytes.
    """
    templates: dict[bytes, Path] = {}
    made = 0
    for video_id in range(first, last + 1):
        for key, data in objects_of(video_id):
            if data not in templates:
                templates[data] = _template(root, data)
            path = root / key
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(templates[data], path)
            except OSError as exc:
                if exc.errno != errno.EMLINK:
                    raise
                templates[data] = _template(root, data)
                os.link(templates[data], path)
            made += 1
    return made


def _template(root: Path, data: bytes) -> Path:
    template = root.parent / f"template-{next(_TEMPLATE_NUMBERS)}"
    template.write_bytes(data)
    os.utime(template, (THREE_DAYS_AGO, THREE_DAYS_AGO))  # every link shares the inode
    return template


_TEMPLATE_NUMBERS = itertools.count()


# ---------------------------------------------------------------- moto S3 in its own process


def serve_moto(first: int, last: int) -> None:
    """Fill moto's S3 backend with the objects of videos first…last, print the port, serve until stdin closes."""
    import bisect
    import datetime
    import logging
    import threading

    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.moto_server.werkzeug_app import create_backend_app
    from moto.s3.models import FakeKey, S3Backend, s3_backends
    from moto.utilities.utils import md5_hash
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    class SharedKey(FakeKey):
        """A key with its own name and everything else (bytes, etag, times) from a prototype."""

        __module__ = "moto.s3.benchmark"  # moto's model registry files classes by the service in their module
        __slots__ = ("name", "_proto")

        def __init__(self, name: str, proto: FakeKey) -> None:  # noqa: D107 - no FakeKey.__init__: 60 bytes, not 3 KiB
            self.name, self._proto = name, proto

        def __getattr__(self, attribute: str):
            return getattr(self._proto, attribute)

    backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
    bucket = backend.create_bucket(BUCKET, "us-east-1")
    protos: dict[bytes, FakeKey] = {}
    for video_id in range(first, last + 1):
        for key, data in objects_of(video_id):
            proto = protos.get(data)
            if proto is None:
                proto = protos[data] = FakeKey("proto", data, DEFAULT_ACCOUNT_ID, "us-east-1", bucket_name=BUCKET)
                proto.last_modified = datetime.datetime.fromtimestamp(THREE_DAYS_AGO)
                proto.etag  # computed once, so that no two requests share the buffer for it  # noqa: B018
            bucket.keys[key] = SharedKey(key, proto)
    names = sorted(bucket.keys.keys())
    original = S3Backend.list_objects_v2

    def list_objects_v2(self, bucket, prefix, delimiter, continuation_token, start_after, max_keys):
        if delimiter or bucket.name != BUCKET:
            return original(self, bucket, prefix, delimiter, continuation_token, start_after, max_keys)
        after = self._pagination_tokens.get(continuation_token) if continuation_token else start_after
        start = bisect.bisect_right(names, after) if after else bisect.bisect_left(names, prefix or "")
        page = [n for n in names[start:start + max_keys + 1] if n.startswith(prefix or "")]
        truncated = len(page) > max_keys
        page = page[:max_keys]
        token = None
        if truncated:
            token = md5_hash(page[-1].encode()).hexdigest()
            self._pagination_tokens[token] = page[-1]
        return [bucket.keys[n] for n in page], truncated, token

    S3Backend.list_objects_v2 = list_objects_v2
    # moto's S3 app alone: its dispatcher would work out the service of every request anew.
    server = make_server("127.0.0.1", 0, create_backend_app("s3"), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"port {server.server_port} {len(names)}", flush=True)
    sys.stdin.read()  # until the benchmark closes it
    server.shutdown()


class MotoServer:
    def __init__(self, first: int, last: int) -> None:
        self.process = subprocess.Popen([sys.executable, __file__, "--serve-moto", str(first), str(last)],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        _, port, objects = self.process.stdout.readline().split()
        self.endpoint, self.objects = f"http://127.0.0.1:{port}", int(objects)

    def stop(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=60)


# ---------------------------------------------------------------- one measurement, in a child process


def measure(what: str) -> None:
    from videoctl.api import Client

    with Client() as videoctl:
        start = time.perf_counter()
        if what == "list":
            objects = sum(1 for _ in videoctl._ctx.store.list_prefix(ROOT))
            found = None
        else:
            report = videoctl.reconcile(older_than_s=86_400, show=0)
            objects = report.scanned["objects"]
            found = {kind: findings.counts()["found"] for kind, findings in
                     (("broken", report.broken), ("orphans", report.orphans), ("stuck", report.stuck))}
        seconds = time.perf_counter() - start
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "objects": objects, "rss_mib": rss, "found": found}))


def child(what: str, env: dict[str, str]) -> dict:
    done = subprocess.run([sys.executable, __file__, "--measure", what], env=env,
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{what} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- the benchmark


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=100_000)
    parser.add_argument("--stores", default="local,s3")
    parser.add_argument("--rounds", type=int, default=1, help="paired listing/reconcile rounds per size and store")
    parser.add_argument("--serve-moto", nargs=2, type=int, help=argparse.SUPPRESS)
    parser.add_argument("--measure", choices=("list", "reconcile"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_moto:
        return serve_moto(*args.serve_moto)
    if args.measure:
        return measure(args.measure)

    from videoctl.db.embedded import ensure_server, stop_server
    from videoctl.services.schema import migrate_schema
    from videoctl.settings import Settings

    stores = args.stores.split(",")
    # Playlists are read through copies in the scratch directory: on a disk mounted with
    # `discard` (this machine's) every overwrite of one costs a millisecond of TRIM, so it goes to RAM.
    in_ram = "/dev/shm" if Path("/dev/shm").is_dir() else None
    with tempfile.TemporaryDirectory(prefix="videoctl-bench-reconcile-", dir="/tmp") as tmp, \
            tempfile.TemporaryDirectory(prefix="videoctl-bench-scratch-", dir=in_ram) as scratch:
        os.chmod(tmp, 0o755)  # as root the embedded server refuses a private folder above its data
        pgdata = Path(tmp) / "pgdata"
        base = {**os.environ, "VIDEOCTL_HOME": str(Path(tmp) / "home"), "VIDEOCTL_EXECUTOR": "local",
                "VIDEOCTL_DATABASE_URL": ensure_server(pgdata), "AWS_DEFAULT_REGION": "us-east-1",
                "VIDEOCTL_SCRATCH_DIR": os.environ.get("VIDEOCTL_SCRATCH_DIR", scratch)}
        migrate_schema(Settings.from_env(base))
        try:
            run(args, stores, base, Path(tmp))
        finally:
            stop_server(pgdata)


def run(args, stores: list[str], base: dict[str, str], tmp: Path) -> None:
    import psycopg

    local_root = tmp / "store" / "root"
    local_root.mkdir(parents=True)
    sizes = [args.videos // 4, args.videos]
    results: dict[tuple[str, int], dict] = {}
    built = 0
    print(f"reconcile over {sizes[0]:,} then {sizes[1]:,} videos; stores: {', '.join(stores)}; "
          f"{args.rounds} round(s)", flush=True)
    for size in sizes:
        started = time.perf_counter()
        with psycopg.connect(base["VIDEOCTL_DATABASE_URL"], autocommit=True) as conn:
            conn.execute(VIDEOS_SQL, {"first": built + 1, "last": size})
            conn.execute("VACUUM ANALYZE video")
        objects = build_local(local_root, built + 1, size) if "local" in stores else None
        print(f"\n{size:,} videos: database{f' and {objects:,} more local files' if objects else ''} "
              f"built in {time.perf_counter() - started:.0f} s", flush=True)
        built = size
        for store in stores:
            server = None
            env = dict(base)
            if store == "local":
                env["VIDEOCTL_STORAGE_DIR"] = str(local_root)
            else:
                started = time.perf_counter()
                server = MotoServer(1, size)
                print(f"  moto S3 filled with {server.objects:,} keys in {time.perf_counter() - started:.0f} s",
                      flush=True)
                env.update(R2_ENDPOINT_URL=server.endpoint, R2_BUCKET=BUCKET, R2_ACCESS_KEY_ID="bench",
                           R2_SECRET_ACCESS_KEY="bench")
            try:
                rounds = [(child("list", env), child("reconcile", env))
                          for _ in range(args.rounds)]
            finally:
                if server:
                    server.stop()
            results[store, size] = summary = summarise(rounds)
            print(f"  {store:5}: {summary['objects']:,} objects; listing {summary['list_s']:.1f} s "
                  f"({summary['objects'] / summary['list_s']:,.0f} objects/s), reconcile {summary['reconcile_s']:.1f} s "
                  f"({summary['objects'] / summary['reconcile_s']:,.0f} objects/s) = {summary['ratio']:.2f}× the "
                  f"listing; peak RSS {summary['rss_mib']:.0f} MiB (listing {summary['list_rss_mib']:.0f} MiB); "
                  f"found {summary['found']}", flush=True)
    print()
    for store in stores:
        small, big = results[store, sizes[0]], results[store, sizes[1]]
        growth = (big["reconcile_s"] / small["reconcile_s"]) / (big["objects"] / small["objects"])
        print(f"{store:5}: {big['objects'] / small['objects']:.2f}× the objects took "
              f"{big['reconcile_s'] / small['reconcile_s']:.2f}× the time: {growth:.2f} (1.00 = linear); "
              f"peak RSS {small['rss_mib']:.0f} → {big['rss_mib']:.0f} MiB (target ≤ 200)")


def summarise(rounds: list[tuple[dict, dict]]) -> dict:
    listing, checks = [r[0] for r in rounds], [r[1] for r in rounds]
    assert all(c["objects"] == listing[0]["objects"] for c in listing + checks), "runs saw different stores"
    return {"objects": listing[0]["objects"],
            "list_s": statistics.median(r["seconds"] for r in listing),
            "reconcile_s": statistics.median(r["seconds"] for r in checks),
            "ratio": statistics.median(c["seconds"] / r["seconds"] for r, c in rounds),
            "rss_mib": max(c["rss_mib"] for c in checks), "list_rss_mib": max(r["rss_mib"] for r in listing),
            "found": checks[-1]["found"]}


if __name__ == "__main__":
    main()
