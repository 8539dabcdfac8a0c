"""The portal's SQL, over the record model's read model (`epd_records.readmodel`): the same tables,
aliases and rules (data owner, geography, provisional successor) the gateway and the publisher use.

Who sees which version follows `epd_records.status.served_status`; the SQL form of it is here so
lists can be filtered and paged in the database, and `tests/unit/portal` checks both agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from epd_records import readmodel

#: served_status(version, PUBLIC) is not None: published, and what was published before.
PUBLIC_VISIBLE = (
    "({a}.status IN ('published', 'deprecated', 'expired') "
    "OR ({a}.status = 'withdrawn' AND {a}.valid_from IS NOT NULL))"
)
#: served_status(version, Viewer(accepts_provisional=True)) is not None: operators also see provisional
#: versions and those withdrawn or rejected before publication.
OPERATOR_VISIBLE = "({a}.status IN ('provisional', 'published', 'deprecated', 'expired', 'withdrawn'))"


def visible(alias: str, operator: bool) -> str:
    return (OPERATOR_VISIBLE if operator else PUBLIC_VISIBLE).format(a=alias)


#: Per series, the version a registry shows as current: the published one, else the latest visible to the public.
CURRENT = f"""
    SELECT DISTINCT ON (c.series_id) c.series_id, c.pf_id FROM epd_versions c
    WHERE {visible("c", False)}
    ORDER BY c.series_id, (c.status = 'published') DESC, c.version DESC"""

OWNER_ID = readmodel.owner_sql("organisation_id")
OWNER_NAME = readmodel.owner_sql("name")

LISTING_FROM = f"""
    {readmodel.VERSION_FROM}
    JOIN cur ON cur.pf_id = v.pf_id
    LEFT JOIN epd_results r ON r.pf_id = v.pf_id AND r.module = 'A1-A3' AND r.indicator = 'GWP-total'"""
# No count(*) OVER (): it would compute every column of every match; PostgreSQL evaluates the
# successor subquery only for the page's rows after the sort and limit.
LISTING_SELECT = f"""
    WITH cur AS ({CURRENT})
    SELECT v.pf_id, v.version, v.status, v.declared_unit, v.valid_from, v.valid_until, v.created_at,
           s.series_id, s.product_id, s.plant_id, s.pcr_id, s.pcr_version, s.registration_number,
           p.name AS product_name, p.classifications, pl.name AS plant_name, pl.grid_region,
           {OWNER_ID} AS organisation_id, {OWNER_NAME} AS organisation_name,
           {readmodel.GEOGRAPHY_SQL} AS geography, {readmodel.SUCCESSOR_SQL} AS successor, r.value AS gwp
    {LISTING_FROM}"""
LISTING_COUNT = f"WITH cur AS ({CURRENT}) SELECT count(*) {LISTING_FROM}"

SORTS = {
    "name": "lower(p.name), s.product_id, s.plant_id",
    "gwp": "r.value NULLS LAST, lower(p.name), s.product_id, s.plant_id",
}
STATUSES = ("published", "withdrawn", "expired", "deprecated")


def like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _compact(text: str) -> str:
    """'HS 2846.90' and 'hs:2846.90' compare as 'hs284690'."""
    return "".join(ch for ch in text.lower() if ch.isalnum())


@dataclass(frozen=True)
class Search:
    text: str = ""
    pcr: str = ""
    classification: str = ""
    company: str = ""
    status: str = ""
    sort: str = "name"

    def active(self) -> bool:
        return any((self.text, self.pcr, self.classification, self.company, self.status))


@dataclass
class Args:
    values: list[Any] = field(default_factory=list)

    def __call__(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}"


def listing(search: Search, limit: int, offset: int) -> tuple[str, str, list[Any]]:
    """The current version of every EPD series matching `search`: the query of one page, the query of
    the match count (it takes the same arguments but the last two), and the arguments."""
    arg, where = Args(), []
    if search.text:
        t = arg(f"%{like_escape(search.text.lower())}%")
        where.append(
            f"(lower(p.name) LIKE {t} OR lower(s.product_id) LIKE {t} OR lower({OWNER_NAME}) LIKE {t} "
            f"OR lower(s.pcr_id) LIKE {t} OR lower(s.registration_number) LIKE {t} "
            f"OR lower(array_to_string(p.classifications, ' ')) LIKE {t})"
        )
    if search.pcr:
        where.append(f"s.pcr_id = {arg(search.pcr)}")
    if search.classification:
        code = arg(like_escape(_compact(search.classification)) + "%")
        where.append(
            "EXISTS (SELECT 1 FROM unnest(p.classifications) k "
            f"WHERE regexp_replace(lower(k), '[^a-z0-9]', '', 'g') LIKE {code})"
        )
    if search.company:
        where.append(f"{OWNER_ID} = {arg(search.company)}")
    if search.status:
        where.append(f"v.status = {arg(search.status)}")
    condition = f" WHERE {' AND '.join(where)}" if where else ""
    sql = LISTING_SELECT + condition
    sql += f" ORDER BY {SORTS.get(search.sort, SORTS['name'])} LIMIT {arg(limit)} OFFSET {arg(offset)}"
    return sql, LISTING_COUNT + condition, arg.values


CATEGORIES = f"""
    WITH cur AS ({CURRENT}),
    c AS (SELECT s.pcr_id, s.pcr_version, v.declared_unit, v.status, v.pf_id
          FROM cur JOIN epd_versions v ON v.pf_id = cur.pf_id JOIN epd_series s ON s.series_id = cur.series_id
          WHERE $1::text IS NULL OR s.pcr_id = $1)
    SELECT c.pcr_id, array_agg(DISTINCT c.pcr_version ORDER BY c.pcr_version) AS pcr_versions,
           array_agg(DISTINCT c.declared_unit ORDER BY c.declared_unit) AS declared_units,
           count(DISTINCT c.pf_id) AS epds, count(DISTINCT c.pf_id) FILTER (WHERE c.status = 'published') AS published,
           array_agg(DISTINCT r.module ORDER BY r.module) FILTER (WHERE r.module IS NOT NULL) AS modules
    FROM c LEFT JOIN epd_results r ON r.pf_id = c.pf_id AND r.indicator = 'GWP-total'
    GROUP BY c.pcr_id ORDER BY c.pcr_id"""
#: The categories to search in (those with an EPD the public sees).
PCR_IDS = f"""
    SELECT DISTINCT s.pcr_id FROM epd_series s
    WHERE EXISTS (SELECT 1 FROM epd_versions v WHERE v.series_id = s.series_id AND {visible("v", False)})
    ORDER BY s.pcr_id"""

#: Current published A1-A3 GWP-total of every EPD of a category ($1 pcr_id), for the distribution chart.
DISTRIBUTION = f"""
    WITH cur AS ({CURRENT})
    SELECT s.product_id, s.plant_id, p.name AS product_name, v.declared_unit, r.value AS gwp
    FROM cur JOIN epd_versions v ON v.pf_id = cur.pf_id JOIN epd_series s ON s.series_id = cur.series_id
    JOIN products p ON p.product_id = s.product_id
    JOIN epd_results r ON r.pf_id = v.pf_id AND r.module = 'A1-A3' AND r.indicator = 'GWP-total'
    WHERE s.pcr_id = $1 AND v.status = 'published'
    ORDER BY r.value, s.product_id, s.plant_id"""

PRODUCT = """
    SELECT p.product_id, p.name, p.declared_unit, p.classifications, p.purity,
           p.organisation_id, o.name AS organisation_name
    FROM products p LEFT JOIN organisations o ON o.organisation_id = p.organisation_id
    WHERE p.product_id = $1"""

#: The product's EPD series with at least one version the viewer sees ($1 product, $2 operator?).
SERIES = f"""
    SELECT s.series_id, s.plant_id, s.pcr_id, s.pcr_version, s.registration_number, s.programme_operator,
           pl.name AS plant_name, pl.province, pl.grid_region, pl.organisation_id AS operator_id,
           operator.name AS operator_name
    FROM epd_series s JOIN plants pl ON pl.plant_id = s.plant_id
    JOIN organisations operator ON operator.organisation_id = pl.organisation_id
    WHERE s.product_id = $1 AND EXISTS (
        SELECT 1 FROM epd_versions v WHERE v.series_id = s.series_id
        AND (CASE WHEN $2::boolean THEN {visible("v", True)} ELSE {visible("v", False)} END))
    ORDER BY s.plant_id"""

VERSIONS = f"{readmodel.VERSION_SELECT} WHERE v.series_id = $1 ORDER BY v.version"
VERSION = f"{readmodel.VERSION_SELECT} WHERE v.pf_id = $1"
STATUS_TIMES = "SELECT pf_id, status_changed_at FROM epd_versions WHERE pf_id = ANY($1::uuid[])"
#: What happened to versions ($1 uuid[]) and when: the change types the footprint service wrote to the outbox.
CHANGES = """
    SELECT pf_id, change_type, created_at FROM outbox
    WHERE pf_id = ANY($1::uuid[]) AND change_type <> 'successor_changed' ORDER BY outbox_id"""

DRIFT_EVENTS = """
    SELECT e.drift_event_id, e.cause, e.origin_product_id, e.direction, e.percent, e.live_value,
           e.published_value, e.reason, e.window_id, e.revision, e.pf_id, e.created_at
    FROM footprint_drift_events e WHERE e.series_id = $1 ORDER BY e.created_at, e.drift_event_id"""

#: Evidence windows of versions ($1 uuid[]) with what footprint recorded when it applied them.
EVIDENCE_WINDOWS = """
    SELECT e.pf_id, e.window_id, e.revision, e.merkle_root, w.process_id, w.window_start, w.window_end
    FROM epd_evidence e
    LEFT JOIN footprint_applied_windows w ON w.window_id = e.window_id AND w.revision = e.revision
    WHERE e.pf_id = ANY($1::uuid[]) ORDER BY e.pf_id, w.window_start NULLS LAST, e.window_id, e.revision"""

FACTOR_SET = "SELECT version, default_gwp_set, windows_from, content_sha256 FROM factor_sets WHERE version = $1"
FACTORS = """
    SELECT factor_id, activity, region, unit, year_from, year_to, co2e, gases, citation, is_default, note
    FROM emission_factors WHERE set_version = $1 ORDER BY activity, region, year_from, factor_id"""
GWP_VALUES = (
    "SELECT gwp_set, gas, value, citation, checked FROM gwp_values WHERE set_version = $1 ORDER BY gwp_set, gas"
)

#: The latest version of every product system (the value chain the footprint service computes with);
#: a version's document never changes, so it is read once per (system_id, version).
SYSTEM_VERSIONS = """
    SELECT DISTINCT ON (system_id) system_id, version FROM footprint_product_systems
    ORDER BY system_id, version DESC"""
SYSTEM_DOCUMENT = "SELECT document FROM footprint_product_systems WHERE system_id = $1 AND version = $2"

#: Products ($1 text[]) and the series that certify them, for value-chain links.
CHAIN_LINKS = f"""
    WITH cur AS ({CURRENT})
    SELECT p.product_id, p.name AS product_name, s.plant_id, v.status, r.value AS gwp, v.declared_unit
    FROM products p LEFT JOIN epd_series s ON s.product_id = p.product_id
    LEFT JOIN cur ON cur.series_id = s.series_id LEFT JOIN epd_versions v ON v.pf_id = cur.pf_id
    LEFT JOIN epd_results r ON r.pf_id = v.pf_id AND r.module = 'A1-A3' AND r.indicator = 'GWP-total'
    WHERE p.product_id = ANY($1::text[]) ORDER BY p.product_id, s.plant_id"""

ORGANISATION = "SELECT organisation_id, name, country, company_ids FROM organisations WHERE organisation_id = $1"
# Region, never coordinates (the portal's role cannot read latitude and longitude).
PLANTS = "SELECT plant_id, name, province, grid_region FROM plants WHERE organisation_id = $1 ORDER BY plant_id"
PRODUCTS_OF = "SELECT product_id, name, classifications FROM products WHERE organisation_id = $1 ORDER BY product_id"

#: Versions for the Atom feed: every version the public sees, newest change first ($1 pcr_id or NULL).
FEED = f"""{readmodel.VERSION_SELECT}
    WHERE {visible("v", False)} AND ($1::text IS NULL OR s.pcr_id = $1)
    ORDER BY v.status_changed_at DESC, v.pf_id LIMIT $2"""

#: Provisional versions waiting for a verifier, oldest first, with the drift events that created them.
PENDING = f"{readmodel.VERSION_SELECT} WHERE v.status = 'provisional' ORDER BY v.created_at, v.pf_id"
PENDING_EVENTS = """
    SELECT e.pf_id, e.cause, e.origin_product_id, e.direction, e.percent, e.live_value, e.published_value,
           e.reason, e.created_at
    FROM footprint_drift_events e JOIN epd_versions v ON v.pf_id = e.pf_id
    WHERE v.status = 'provisional' ORDER BY e.created_at"""

#: What the connected role may do: the portal runs only when it can change nothing.
ROLE_CHECK = """
    SELECT r.rolsuper OR r.rolcreaterole OR r.rolbypassrls AS powerful,
           coalesce(bool_or(has_table_privilege(c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE')), false) AS writes,
           has_schema_privilege('public', 'CREATE') AS creates
    FROM pg_roles r LEFT JOIN pg_class c ON c.relkind IN ('r', 'p')
         AND c.relnamespace = 'public'::regnamespace
    WHERE r.rolname = current_user GROUP BY r.rolsuper, r.rolcreaterole, r.rolbypassrls"""
