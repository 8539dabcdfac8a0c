"""Words the pages show for values from the database (statuses, changes, causes), marked for the
message catalogs; templates translate them with `_()`."""

from __future__ import annotations

from epd_portal.i18n import N_

STATUS = {
    "provisional": N_("provisional (awaiting a verifier)"),
    "verified": N_("verified"),
    "published": N_("published"),
    "deprecated": N_("superseded"),
    "withdrawn": N_("withdrawn"),
    "expired": N_("expired"),
    "draft": N_("draft"),
}
CHANGE = {
    "created": N_("created"),
    "verified": N_("verified"),
    "published": N_("published"),
    "deprecated": N_("superseded"),
    "withdrawn": N_("withdrawn"),
    "expired": N_("expired"),
    "rejected": N_("rejected by a verifier"),
}
CAUSE = {
    "drift": N_("drift of the live footprint"),
    "cascade": N_("drift upstream in the value chain"),
    "import": N_("imported EPD"),
    "approval": N_("approved by a verifier"),
    "other": N_("new version"),
}
DIRECTION = {"deterioration": N_("worse"), "improvement": N_("better")}
MODULES = {"A1": N_("A1 raw material supply"), "A2": N_("A2 transport"), "A3": N_("A3 manufacturing")}
INDICATORS = {
    "GWP-total": N_("GWP total"),
    "GWP-fossil": N_("GWP fossil"),
    "GWP-biogenic": N_("GWP biogenic"),
    "GWP-luluc": N_("GWP land use and land-use change"),
}
SORTS = {"name": N_("name"), "gwp": N_("GWP, lowest first")}
FORMATS = {"pact": N_("PACT v3 JSON"), "ilcd": N_("ILCD+EPD v1.2 XML"), "openepd": N_("openEPD JSON")}
