"""Languages: Simplified Chinese and English, every text from the message catalogs (Babel/gettext).

The catalogs are `locale/<locale>/LC_MESSAGES/messages.po` (English is the source language, so it
needs none); they are compiled in memory at start-up, so no generated .mo file is kept in the
repository. Numbers and dates are formatted per locale with Babel (CLDR data).
`make portal-messages` re-extracts the messages and updates the catalogs; a unit test fails when a
message has no translation.
"""

from __future__ import annotations

import gettext
import io
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from importlib import resources

from babel import Locale, dates, numbers
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

#: Language tag (as in <html lang> and the switch) -> catalog folder.
LANGUAGES = {"en": None, "zh-CN": "zh_CN"}
DEFAULT = "en"
COOKIE = "epd_portal_lang"


def catalog_path(folder: str) -> resources.abc.Traversable:
    return resources.files("epd_portal") / "locale" / folder / "LC_MESSAGES" / "messages.po"


def load_translations(folder: str | None) -> NullTranslations:
    """The catalog compiled in memory (fuzzy entries are left out, as msgfmt does)."""
    if folder is None:
        return NullTranslations()
    with catalog_path(folder).open("rb") as fh:
        catalog = read_po(fh, locale=folder)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return Translations(compiled)


def parse_accept_language(header: str) -> list[str]:
    """RFC 9110 Accept-Language -> language ranges, most preferred first (q=0 dropped)."""
    ranked = []
    for position, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag and quality > 0:
            ranked.append((-quality, position, tag.strip().lower()))
    return [tag for _, _, tag in sorted(ranked)]


def negotiate(cookie: str | None, accept_language: str | None) -> str:
    """The chosen language: the switch (cookie) first, then Accept-Language, else English."""
    if cookie in LANGUAGES:
        return cookie
    for tag in parse_accept_language(accept_language or ""):
        if tag == "*":
            return DEFAULT
        if tag.startswith("zh") and tag not in ("zh-tw", "zh-hk", "zh-mo", "zh-hant"):
            return "zh-CN"
        if tag.startswith("en"):
            return "en"
    return DEFAULT


@dataclass(frozen=True)
class Language:
    """One language: its tag, Babel locale and translations, with the locale's formatting."""

    tag: str
    locale: Locale
    translations: gettext.NullTranslations

    def gettext(self, message: str) -> str:
        return self.translations.gettext(message)

    def number(self, value: Decimal | float | int | str | None, digits: int = 3) -> str:
        if value is None or value == "":
            return "–"
        pattern = "#,##0." + "#" * digits if digits else "#,##0"
        return numbers.format_decimal(Decimal(str(value)), format=pattern, locale=self.locale)

    def percent(self, value: Decimal | float | None) -> str:
        if value is None:
            return "–"
        return numbers.format_decimal(Decimal(str(value)), format="+#,##0.0;-#,##0.0", locale=self.locale) + " %"

    def date(self, value: date | datetime | None) -> str:
        return "–" if value is None else dates.format_date(value, format="medium", locale=self.locale)

    def short_datetime(self, value: datetime | None) -> str:
        if value is None:
            return "–"
        return dates.format_datetime(value, format="short", tzinfo=dates.get_timezone("UTC"), locale=self.locale)

    def datetime(self, value: datetime | None) -> str:
        if value is None:
            return "–"
        return dates.format_datetime(value, format="medium", tzinfo=dates.get_timezone("UTC"), locale=self.locale)


def languages() -> dict[str, Language]:
    return {
        tag: Language(tag, Locale.parse(folder or tag, sep="_" if folder else "-"), load_translations(folder))
        for tag, folder in LANGUAGES.items()
    }


def N_(message: str) -> str:  # noqa: N802 - the gettext convention for "translate later"
    """Marks a message for extraction; it is translated where it is shown."""
    return message
