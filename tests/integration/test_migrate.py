"""Schema migrations on a real PostgreSQL: applied once, in order, safely from several places at once."""

import threading

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from tests.conftest import _with_dbname
from videoctl.db import migrate


def test_template_is_fully_migrated(conn):
    statuses = migrate.status(conn)
    assert statuses and all(s.applied_at is not None for s in statuses)
    assert migrate.pending(conn) == []
    indexes = {r["indexname"]: r["indexdef"] for r in conn.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'video_transcode_job'")}
    assert {"video_transcode_job_one_active_idx", "video_transcode_job_active_idx"} <= indexes.keys()
    # scan-stuck reads the active jobs in id order (0003): no sort, and --limit stops early.
    assert "(id) WHERE" in indexes["video_transcode_job_active_idx"]


def test_concurrent_migrators_apply_each_migration_once(pg_server_url):
    name = "videoctl_migrate_race"
    with psycopg.connect(pg_server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = _with_dbname(pg_server_url, name)
    results, errors = [], []
    barrier = threading.Barrier(4)

    def run():
        try:
            with psycopg.connect(url, autocommit=True) as c:
                barrier.wait()
                results.append(migrate.migrate(c))
        except Exception as exc:  # noqa: BLE001 - the test reports it
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == []
        applied_counts = sorted(len(r) for r in results)
        assert applied_counts == [0, 0, 0, len(migrate.available())]
        with psycopg.connect(url, row_factory=dict_row) as c:
            rows = c.execute("SELECT count(*) AS n FROM schema_migrations").fetchone()
            assert rows["n"] == len(migrate.available())
    finally:
        with psycopg.connect(pg_server_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
