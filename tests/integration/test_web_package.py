"""The web page's templates and static files (CSS, JS, the vendored hls.js) ship in the wheel, and
the package finds them there: a wheel install serves the same pages as a checkout."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
WEB = REPO / "videoctl" / "web"

pytestmark = pytest.mark.slow


def test_the_wheel_carries_every_template_and_static_file_and_they_load_from_it(built_wheel, tmp_path):
    names = built_wheel.names
    shipped = {str(path.relative_to(REPO)) for folder in ("templates", "static")
               for path in (WEB / folder).rglob("*") if path.is_file()}
    assert {"videoctl/web/templates/video.html", "videoctl/web/static/vendor/hls.js/hls.min.js",
            "videoctl/web/static/player.js"} <= shipped
    assert shipped - names == set()

    check = ("import videoctl.web.app as app, pathlib; "
             "assert pathlib.Path(app.__file__).is_relative_to(pathlib.Path(__import__('sys').argv[1])); "
             "env = app.templates(); [env.get_template(n) for n in ('videos.html', 'video.html', 'jobs.html', "
             "'error.html')]; assert (app.HERE / 'static' / 'vendor' / 'hls.js' / 'hls.min.js').is_file()")
    loaded = built_wheel.run(check, tmp_path)
    assert loaded.returncode == 0, loaded.stderr
