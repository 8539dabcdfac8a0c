"""Pages from Jinja2 templates, one environment per language with its gettext catalog installed
(`jinja2.ext.i18n`, new-style gettext, autoescaping on), and the context every page shares: the
language and its switch, the operator session, the programme."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import Response
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from epd_portal import caching, i18n, labels
from epd_portal.sessions import COOKIE as SESSION_COOKIE
from epd_portal.sessions import Session, SessionSealer


@dataclass(frozen=True)
class Viewer:
    """Who is asking: the page's language and, for a logged-in operator, the session."""

    lang: i18n.Language
    session: Session | None

    @property
    def operator(self) -> bool:
        return self.session is not None


def _environment(lang: i18n.Language) -> Environment:
    env = Environment(
        loader=PackageLoader("epd_portal", "templates"),
        autoescape=select_autoescape(("html", "xml")),
        extensions=["jinja2.ext.i18n"],
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(lang.translations, newstyle=True)  # type: ignore[attr-defined]
    env.filters.update(num=lang.number, pct=lang.percent, date=lang.date, datetime=lang.datetime)
    env.globals.update(labels=labels, lang=lang, languages=i18n.LANGUAGES)
    return env


class Pages:
    def __init__(self, sessions: SessionSealer, cache_seconds: int, programme_operator: str) -> None:
        self.languages = i18n.languages()
        self.envs = {tag: _environment(lang) for tag, lang in self.languages.items()}
        self.sessions, self.cache_seconds, self.programme_operator = sessions, cache_seconds, programme_operator

    def viewer(self, request: Request) -> Viewer:
        tag = i18n.negotiate(request.cookies.get(i18n.COOKIE), request.headers.get("accept-language"))
        return Viewer(self.languages[tag], self.sessions.open(request.cookies.get(SESSION_COOKIE)))

    def html(self, request: Request, viewer: Viewer, template: str, status: int = 200, **context: Any) -> Response:
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        switch = {tag: "/language/" + tag + "?" + urlencode({"next": here}) for tag in i18n.LANGUAGES}
        body = (
            self.envs[viewer.lang.tag]
            .get_template(template)
            .render(
                viewer=viewer,
                session=viewer.session,
                switch=switch,
                here=request.url.path,
                programme_operator=self.programme_operator,
                **context,
            )
            .encode()
        )
        if status != 200:
            return Response(
                body,
                status_code=status,
                media_type="text/html; charset=utf-8",
                headers={"cache-control": "no-store", "vary": caching.VARY},
            )
        return caching.cached(
            request, body, "text/html; charset=utf-8", private=viewer.operator, max_age=self.cache_seconds
        )
