"""Benchmark the submit path against bare SubmitJob calls, side by side in one run.

    python benchmarks/submit_throughput.py [--jobs 200] [--rounds 3] [--rate 20]

Starts a moto server on loopback (Batch without Docker) and a throwaway embedded
PostgreSQL, then in paired rounds (A B A B …):

  A  bare boto3 ``submit_job`` calls on the same server;
  B  what ``videoctl submit`` does per video after its checks (``plan_submit``):
     ``create_job_and_submit`` — INSERT the job with its first attempt begun, SubmitJob (the
     same request as A), mark SUBMITTED.

It prints jobs/s of each and B/A (target ≤ 1.3×), then runs the bulk path
(``submit_all``) at ``--rate`` and prints the rate it sustained.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.moto_batch

for _name, _value in {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                      "AWS_DEFAULT_REGION": "us-east-1"}.items():
    os.environ[_name] = _value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=200, help="submissions per side per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rate", type=float, default=20.0, help="bulk submit rate to check (jobs/s)")
    parser.add_argument("--database-url", help="a scratch PostgreSQL database (migrated here); default: a "
                        "throwaway embedded server")
    args = parser.parse_args()

    import logging

    import requests
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    requests.post(f"{endpoint}/moto-api/config", json={"batch": {"use_docker": False}}, timeout=10)
    with tempfile.TemporaryDirectory(prefix="videoctl-bench-submit-", dir="/tmp") as tmp:
        os.chmod(tmp, 0o755)  # as root the embedded server refuses a private folder above its data
        env = {"VIDEOCTL_HOME": str(Path(tmp) / "home"), "VIDEOCTL_EXECUTOR": "batch",
               "VIDEOCTL_AWS_ENDPOINT_URL": endpoint, "AWS_DEFAULT_REGION": "us-east-1"}
        if args.database_url:
            from videoctl.services.schema import migrate_schema
            from videoctl.settings import Settings

            env["VIDEOCTL_DATABASE_URL"] = args.database_url
            migrate_schema(Settings.from_env(env))
        try:
            run(args, endpoint, env)
        finally:
            from videoctl.db.embedded import stop_server

            stop_server(Path(tmp) / "home" / "pgdata")
            server.stop()


def run(args, endpoint: str, env: dict[str, str]) -> None:
    import boto3

    from videoctl.context import AppContext
    from videoctl.services.submit import RateLimiter, SubmitPlan, create_job_and_submit, submit_all
    from videoctl.settings import Settings

    os.environ["AWS_ENDPOINT_URL_BATCH"] = endpoint  # for create_batch_resources below
    os.environ["AWS_ENDPOINT_URL_IAM"] = endpoint
    from tests.moto_batch import BATCH_JOB_DEFINITION, BATCH_QUEUE, create_batch_resources

    create_batch_resources()
    ctx = AppContext(Settings.from_env(env))
    executor = ctx.executor
    bare_client = boto3.client("batch", endpoint_url=endpoint)

    def videos(n: int) -> list[int]:
        rows = ctx.conn.execute(
            "INSERT INTO video (title, source_key, status) SELECT 'bench', 'videos/x/source/a.mp4', 'UPLOADED' "
            "FROM generate_series(1, %s) RETURNING id", (n,)).fetchall()
        return [r["id"] for r in rows]

    def bare() -> float:
        # The very request send_attempt sends, so the difference is our DB work and logic.
        start = time.perf_counter()
        for i in range(args.jobs):
            bare_client.submit_job(jobName=f"video-{i}-job-{i}-a1", jobQueue=BATCH_QUEUE,
                                   jobDefinition=BATCH_JOB_DEFINITION, parameters={"job_id": str(i)},
                                   tags={"video_id": str(i), "job_id": str(i), "attempt": "1"}, propagateTags=True)
        return args.jobs / (time.perf_counter() - start)

    def ours() -> float:
        # The checks (plan_submit: read the video, look for an active job) are left out of
        # the timing: they are reads any submit front end makes, and A has no equivalent.
        plans = [SubmitPlan(ctx.videos.get(video_id), False, 3, None) for video_id in videos(args.jobs)]
        start = time.perf_counter()
        for plan in plans:
            create_job_and_submit(plan, jobs=ctx.jobs, executor=executor)
        return args.jobs / (time.perf_counter() - start)

    bare(), ours()  # warm-up: connections, service models
    if os.environ.get("VIDEOCTL_BENCH_PROFILE"):
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.runcall(ours)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    rates: dict[str, list[float]] = {"bare boto3 submit_job": [], "create_job_and_submit (DB + SubmitJob)": []}
    for _ in range(args.rounds):
        rates["bare boto3 submit_job"].append(bare())
        rates["create_job_and_submit (DB + SubmitJob)"].append(ours())
    print(f"submit throughput, {args.jobs} jobs per side, {args.rounds} paired round(s), moto server on loopback")
    for name, values in rates.items():
        print(f"  {name:<36} {statistics.median(values):8.1f} jobs/s")
    ratios = [a / b for a, b in zip(*rates.values(), strict=True)]
    print(f"  overhead (bare rate / our rate): {statistics.median(ratios):.2f}x (max {max(ratios):.2f}x)")

    count = max(int(args.rate * 3), 20)
    videos(count)
    start = time.perf_counter()
    result = submit_all(videos=ctx.videos, jobs=ctx.jobs, executor=executor, max_attempts=3,
                                 rate=args.rate, limit=count, limiter=RateLimiter(args.rate))
    elapsed = time.perf_counter() - start
    sustained = len(result.submitted) / elapsed
    print(f"bulk submit at --rate {args.rate:g}: {len(result.submitted)} jobs in {elapsed:.2f} s = "
          f"{sustained:.1f} jobs/s ({sustained / args.rate:.2f} of the configured rate), "
          f"{len(result.failed)} failed")
    ctx.close()


if __name__ == "__main__":
    main()
