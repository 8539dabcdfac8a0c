"""Charts as server-rendered SVG with pygal (no JavaScript, nothing from a CDN); this module is glue:
which values go into which pygal chart, in the page's language, made accessible and deterministic.

Every chart is `role="img"` with its `<title>` as accessible name, and each page shows the table of
the plotted values beside it (the text alternative). Series groups carry `data-series` so a test can
count what was plotted. The SVG depends only on its data (a fixed element id, no generation date),
so a page's ETag changes only when its data does.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pygal
from pygal.style import Style

from epd_portal.i18n import Language
from epd_portal.views import MODULES, ORIGINS, VersionRow

STYLE = Style(
    background="#ffffff",
    plot_background="#ffffff",
    foreground="#1a1a1a",
    foreground_strong="#000000",
    foreground_subtle="#5a5a5a",
    opacity="0.9",
    opacity_hover="1",
    colors=("#1f5fa8", "#b3261e", "#1b7a3a", "#6a3d9a", "#8a5a00"),
    font_family='system-ui, "Noto Sans CJK SC", "WenQuanYi Micro Hei", sans-serif',
    title_font_size=16,
    label_font_size=12,
    major_label_font_size=12,
    legend_font_size=13,
    value_font_size=12,
    tooltip_font_size=12,
)
#: Points plotted at most in a distribution; larger categories are shown by evenly spaced ranks.
MAX_POINTS = 400


def _config(title: str, **extra: Any) -> dict[str, Any]:
    return {
        "title": title,
        "style": STYLE,
        "js": [],  # no scripts: the page works without JavaScript
        "disable_xml_declaration": True,
        "explicit_size": False,
        "width": 760,
        "height": 340,
        "legend_at_bottom": True,
        "truncate_legend": -1,
        "print_values": False,
        **extra,
    }


class SvgCache:
    """Rendered charts by the digest of everything they show (bounded LRU): a chart is a pure function
    of its data and language, and pygal takes most of a page's rendering time."""

    def __init__(self, size: int = 512) -> None:
        self.size = size
        self._entries: OrderedDict[bytes, str] = OrderedDict()

    def get(self, key: Any, build: Callable[[], str]) -> str:
        digest = hashlib.blake2b(repr(key).encode(), digest_size=16).digest()
        svg = self._entries.get(digest)
        if svg is None:
            svg = self._entries[digest] = build()
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        self._entries.move_to_end(digest)
        return svg


CACHE = SvgCache()


def render(chart: Any, series_keys: Sequence[str], label: str) -> str:
    """The chart's SVG text: a fixed id from its content, no comments, role and name for assistive
    technology, and `data-series` on each series group."""
    chart.uuid = "c" + hashlib.blake2b(repr((label, chart.raw_series)).encode(), digest_size=8).hexdigest()

    def accessible(root: Any) -> Any:
        # no comments (they carry the generation date) and no script (pygal still writes its config)
        for node in [*root.xpath("//comment()"), *root.iter("script")]:
            node.getparent().remove(node)
        root.set("role", "img")
        # pygal builds its elements without a namespace (the default namespace is declared on the root)
        title = root.find("title")
        if title is not None:
            title.set("id", f"{chart.uuid}-title")
            root.set("aria-labelledby", f"{chart.uuid}-title")
        for group in root.iter("g"):
            for cls in (group.get("class") or "").split():
                if cls.startswith("serie-") and cls[6:].isdigit() and int(cls[6:]) < len(series_keys):
                    group.set("data-series", series_keys[int(cls[6:])])
        return root

    chart.add_xml_filter(accessible)
    svg: str = chart.render(is_unicode=True)
    return svg


def _float(value: Decimal) -> float:
    return float(value)


def history(rows: Sequence[VersionRow], drift: Sequence[dict[str, Any]], lang: Language) -> str:
    """A1-A3 GWP-total of every version over time (one point per version), with the drift events
    (the live value that crossed the threshold) and the approvals marked."""
    versions = [(r.created_at, r.gwp) for r in rows if r.created_at and r.gwp is not None]
    events = [(d["created_at"], d["live_value"]) for d in drift]
    approvals = [(when, r.gwp) for r in rows if (when := r.approved_at()) is not None and r.gwp is not None]
    key = ("history", lang.tag, versions, events, approvals)
    return CACHE.get(key, lambda: _history(versions, events, approvals, lang))


def _history(versions: list[Any], events: list[Any], approvals: list[Any], lang: Language) -> str:
    _ = lang.gettext
    times = [when for when, _value in (*versions, *events, *approvals)]
    short = bool(times) and max(times) - min(times) < timedelta(days=3)  # within days: say the hour too
    chart = pygal.DateTimeLine(
        **_config(
            _("GWP A1-A3 per declared unit over time"),
            x_value_formatter=lang.short_datetime if short else lang.date,
            value_formatter=lambda y: lang.number(y),
            y_title=_("kg CO2e per declared unit"),
            x_label_rotation=20,
            dots_size=5,
        )
    )
    chart.add(_("versions"), [(when, _float(value)) for when, value in versions])
    chart.add(_("drift events"), [(when, _float(value)) for when, value in events], stroke=False, dots_size=7)
    chart.add(_("approvals"), [(when, _float(value)) for when, value in approvals], stroke=False, dots_size=7)
    return render(chart, ("versions", "drift", "approvals"), "history")


def modules(table: Sequence[tuple[str, dict[str, Decimal | None]]], lang: Language) -> str:
    """GWP by module (A1, A2, A3), split by origin (fossil, biogenic, land use) where declared."""
    return CACHE.get(("modules", lang.tag, list(table)), lambda: _modules(table, lang))


def _modules(table: Sequence[tuple[str, dict[str, Decimal | None]]], lang: Language) -> str:
    _ = lang.gettext
    values = dict(table)
    chart = pygal.StackedBar(
        **_config(
            _("GWP by module and origin"),
            value_formatter=lambda y: lang.number(y),
            y_title=_("kg CO2e per declared unit"),
        )
    )
    chart.x_labels = list(MODULES)
    origins = [o for o in ORIGINS if any((values.get(m) or {}).get(o) is not None for m in MODULES)]
    keys = origins or ["GWP-total"]
    names = {"GWP-total": _("GWP total"), "GWP-fossil": _("fossil"), "GWP-biogenic": _("biogenic")}
    names["GWP-luluc"] = _("land use")
    for key in keys:
        chart.add(
            names[key], [_float(v) if (v := (values.get(m) or {}).get(key)) is not None else None for m in MODULES]
        )
    return render(chart, keys, "modules")


def sample(points: Sequence[Any], limit: int = MAX_POINTS) -> list[Any]:
    """At most `limit` points, evenly spaced by rank, always with the first and the last."""
    if len(points) <= limit:
        return list(points)
    step = (len(points) - 1) / (limit - 1)
    return [points[round(i * step)] for i in range(limit)]


def distribution(
    points: Sequence[tuple[Decimal, Decimal, str]], marked: Sequence[tuple[Decimal, Decimal, str]], lang: Language
) -> str:
    """Each EPD of a category at (GWP A1-A3, share of the category at or below it), the marked ones apart."""
    key = ("distribution", lang.tag, list(points), list(marked))
    return CACHE.get(key, lambda: _distribution(points, marked, lang))


def _distribution(
    points: Sequence[tuple[Decimal, Decimal, str]], marked: Sequence[tuple[Decimal, Decimal, str]], lang: Language
) -> str:
    _ = lang.gettext
    chart = pygal.XY(
        **_config(
            _("Distribution of GWP A1-A3 in this category"),
            x_title=_("kg CO2e per declared unit"),
            y_title=_("share of EPDs at or below, percent"),
            value_formatter=lambda y: lang.number(y, 1),
            x_value_formatter=lambda x: lang.number(x),
            range=(0, 100),
            dots_size=4,
        )
    )
    chart.add(_("EPDs in this category"), [(_float(x), _float(y)) for x, y, _name in points], stroke=False)
    chart.add(_("this product"), [(_float(x), _float(y)) for x, y, _name in marked], stroke=False, dots_size=8)
    return render(chart, ("category", "marked"), "distribution")
