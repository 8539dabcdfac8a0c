"""Every message the portal shows has a Simplified Chinese translation: the messages are extracted
from the sources (Python and templates, as `make portal-messages` does) and each must be in the
catalog, translated, not fuzzy, with the same placeholders; the catalog keeps no stale entries."""

from __future__ import annotations

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from epd_portal import i18n
from tests.conftest import REPO

PORTAL = REPO / "services" / "portal"
METHODS = [("src/epd_portal/**.py", "python"), ("src/epd_portal/templates/**.html", "jinja2")]
OPTIONS = {"src/epd_portal/templates/**.html": {"extensions": "jinja2.ext.i18n"}}


def source_messages() -> set[str]:
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(PORTAL), method_map=METHODS, options_map=OPTIONS
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def catalog(folder: str):
    with i18n.catalog_path(folder).open("rb") as fh:
        return read_po(fh, locale=folder)


def test_the_sources_have_messages():
    messages = source_messages()
    assert len(messages) > 150 and "Search certified footprints" in messages and "withdrawn" in messages


def test_every_message_has_a_translation():
    for folder in (f for f in i18n.LANGUAGES.values() if f):
        translated = {m.id: m for m in catalog(folder) if m.id}
        missing = sorted(m for m in source_messages() if m not in translated)
        empty = sorted(m.id for m in translated.values() if not m.string or m.fuzzy)
        assert not missing, f"{folder}: messages without a translation (run make portal-messages): {missing}"
        assert not empty, f"{folder}: empty or fuzzy translations: {empty}"


def test_the_catalog_has_no_stale_messages_and_placeholders_match():
    for folder in (f for f in i18n.LANGUAGES.values() if f):
        messages = source_messages()
        cat = catalog(folder)
        stale = sorted(m.id for m in cat if m.id and m.id not in messages)
        assert not stale, f"{folder}: translations of messages no source uses: {stale}"
        problems = [(m.id, [str(e) for e in errors]) for m, errors in cat.check()]
        assert not problems, problems


def test_a_missing_translation_is_caught():
    """The check above really fails: a catalog without one message is reported."""
    cat = catalog("zh_CN")
    cat.delete("Search")
    translated = {m.id for m in cat if m.id and m.string}
    assert "Search" in source_messages() - translated
