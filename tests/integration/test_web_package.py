"""The web page's templates and static files (CSS, JS, the vendored hls.js) ship in the wheel, and
the package finds them there: a wheel install serves the same pages as a checkout."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
WEB = REPO / "videoctl" / "web"

pytestmark = pytest.mark.slow


def test_the_wheel_carries_every_template_and_static_file_and_they_load_from_it(tmp_path):
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(REPO)],
                           capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("videoctl-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {str(path.relative_to(REPO)) for folder in ("templates", "static")
               for path in (WEB / folder).rglob("*") if path.is_file()}
    assert {"videoctl/web/templates/video.html", "videoctl/web/static/vendor/hls.js/hls.min.js",
            "videoctl/web/static/player.js"} <= shipped
    assert shipped - names == set()

    unpacked = tmp_path / "site-packages"
    zipfile.ZipFile(wheel).extractall(unpacked)
    check = ("import videoctl.web.app as app, pathlib; "
             "assert pathlib.Path(app.__file__).is_relative_to(pathlib.Path(__import__('sys').argv[1])); "
             "env = app.templates(); [env.get_template(n) for n in ('videos.html', 'video.html', 'jobs.html', "
             "'error.html')]; assert (app.HERE / 'static' / 'vendor' / 'hls.js' / 'hls.min.js').is_file()")
    loaded = subprocess.run([sys.executable, "-c", check, str(unpacked)], cwd=tmp_path, capture_output=True, text=True,
                            env={"PYTHONPATH": str(unpacked), "PATH": "/usr/bin:/bin"}, timeout=60)
    assert loaded.returncode == 0, loaded.stderr
