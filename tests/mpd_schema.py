"""Every MPD the tests produce or read is checked against MPEG's own schema, offline, with lxml.

The schema is ISO/IEC 23009-1's ``DASH-MPD.xsd`` (tests/schemas/dash/, with where each file came
from). Playing is no proof of a valid MPD: dash.js and Shaka Player both played MPDs whose
``<Label>`` followed ``<Role>``, which the schema refuses and a stricter parser may too.

``schema_errors`` is the one check. ``tests/conftest.py`` runs it on every MPD that
``videoctl.media.dash`` writes inside the test process and, after each test, on every
``manifest.mpd`` left in the test's home (what ``videoctl`` processes wrote there: run-job started
by ``submit --wait`` or the local executor). Tests that read an MPD written elsewhere (the demo's
own home, the served site) call ``assert_valid_mpd`` themselves.
"""

from __future__ import annotations

import functools
from pathlib import Path

from lxml import etree

SCHEMAS = Path(__file__).resolve().with_name("schemas") / "dash"
#: DASH-MPD.xsd imports W3C's schemas by URL; these are the same documents kept beside it, so
#: validating never reaches for the network (the parser is also told not to).
_W3C = {
    "http://www.w3.org/XML/2008/06/xlink.xsd": SCHEMAS / "xlink.xsd",
    "http://www.w3.org/2001/xml.xsd": SCHEMAS / "xml.xsd",
}


class _LocalCopies(etree.Resolver):
    def resolve(self, url, pubid, context):
        local = _W3C.get(url)
        return self.resolve_filename(str(local), context) if local is not None else None


@functools.cache
def mpd_schema() -> etree.XMLSchema:
    # The schema's patterns are built from entities of its internal DTD subset.
    parser = etree.XMLParser(no_network=True, load_dtd=True, resolve_entities=True)
    parser.resolvers.add(_LocalCopies())
    return etree.XMLSchema(etree.parse(str(SCHEMAS / "DASH-MPD.xsd"), parser))


def schema_errors(mpd: str | bytes | Path) -> list[str]:
    """What the schema refuses in ``mpd`` (a path, or the document itself), one line each."""
    data = mpd.read_bytes() if isinstance(mpd, Path) else mpd.encode() if isinstance(mpd, str) else mpd
    document = etree.fromstring(data, etree.XMLParser(no_network=True, resolve_entities=False))
    schema = mpd_schema()
    if schema.validate(document.getroottree()):
        return []
    return [f"line {error.line}: {error.message}" for error in schema.error_log]


def refusals_under(folder: Path) -> list[str]:
    """What the schema refuses in each ``manifest.mpd`` under ``folder``, each line naming its file."""
    return [f"{path}: {error}" for path in sorted(folder.rglob("manifest.mpd")) for error in schema_errors(path)]


def assert_valid_mpd(mpd: str | bytes | Path) -> None:
    errors = schema_errors(mpd)
    where = f"{mpd} " if isinstance(mpd, Path) else "the MPD "
    assert not errors, where + "is not valid against DASH-MPD.xsd:\n" + "\n".join(errors)
