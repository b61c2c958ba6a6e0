"""The database's SQL (the named queries of videoctl/db/sql and the migrations) ships in the wheel,
and the package finds it there: a wheel install runs the same statements as a checkout."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from videoctl.db.migrate import available
from videoctl.db.queries import queries

REPO = Path(__file__).resolve().parents[2]
DB = REPO / "videoctl" / "db"

pytestmark = pytest.mark.slow


def test_the_wheel_carries_every_sql_file_and_the_queries_and_migrations_load_from_it(built_wheel, tmp_path):
    names = built_wheel.names
    shipped = {str(path.relative_to(REPO)) for folder in ("sql", "migrations") for path in (DB / folder).glob("*.sql")}
    assert {"videoctl/db/sql/jobs.sql", "videoctl/db/sql/videos.sql", "videoctl/db/migrations/0001_init.sql"} <= shipped
    assert shipped - names == set()

    check = ("import json, pathlib, sys; from videoctl.db import migrate, queries; "
             "assert pathlib.Path(queries.__file__).is_relative_to(pathlib.Path(sys.argv[1])), queries.__file__; "
             "print(json.dumps({'queries': queries.queries(), 'migrations': [m.version for m in migrate.available()]}))")
    loaded = built_wheel.run(check, tmp_path)
    assert loaded.returncode == 0, loaded.stderr
    found = json.loads(loaded.stdout)
    assert found["queries"] == queries()
    assert found["migrations"] == [m.version for m in available()] and found["migrations"]
