"""Record renderers for partner deliveries: the gateway's format mappings (one copy of each mapping)
applied with the owner's PartyInfo read from the registry tables."""

from __future__ import annotations

import asyncpg

from epd.v1 import footprint_pb2
from epd_gateway.formats import openepd, pact
from epd_gateway.formats.party import MappingError, OrganisationInfo, PartyInfo, ProductInfo, ProgrammeInfo
from epd_publisher.delivery.recognition import DeliveryFormat
from epd_publisher.delivery.render import Renderer
from epd_publisher.sender import RendererFactory


def renderers_for(party: PartyInfo) -> dict[DeliveryFormat, Renderer]:
    return {
        DeliveryFormat.WEBHOOK_PACT: lambda fv: pact.product_footprint(fv, party),
        DeliveryFormat.WEBHOOK_OPENEPD: lambda fv: openepd.openepd_document(fv, party),
    }


def registry_renderers(pool: asyncpg.Pool, default_operator: str) -> RendererFactory:
    """Reads the organisation and product of each version; a missing owner fails its rendering."""

    async def factory(fv: footprint_pb2.FootprintVersion) -> dict[DeliveryFormat, Renderer]:
        row = await pool.fetchrow(
            """SELECT o.name, o.company_ids, p.name AS product_name
               FROM organisations o LEFT JOIN products p ON p.product_id = $2 WHERE o.organisation_id = $1""",
            fv.organisation_id,
            fv.product_id,
        )
        if row is None:
            raise MappingError(f"organisation {fv.organisation_id[:80]!r} of the footprint is unknown")
        party = PartyInfo(
            organisation=OrganisationInfo(name=row["name"], company_ids=tuple(row["company_ids"] or ())),
            programme=ProgrammeInfo(operator_name=fv.programme_operator or default_operator),
            product=ProductInfo(description=row["product_name"] or ""),
        )
        return renderers_for(party)

    return factory
