"""Organisations carry company identifiers as URNs: PACT names a record's data owner by them."""

import pytest
from pydantic import ValidationError

from epd_footprint.schemas import OrganisationIn


def test_company_ids_are_urns():
    org = OrganisationIn(organisation_id="org-1", name="Org", company_ids=["urn:pact:company:cn-uscc:9115"])
    assert org.company_ids == ["urn:pact:company:cn-uscc:9115"]
    assert OrganisationIn(organisation_id="org-1", name="Org").company_ids == []


@pytest.mark.parametrize("bad", ["not-a-urn", "urn:", "urn:x:\x00nul", "urn:x:" + "a" * 600, "urn:x:a b"])
def test_malformed_company_ids_are_refused(bad):
    with pytest.raises(ValidationError):
        OrganisationIn(organisation_id="org-1", name="Org", company_ids=[bad])


@pytest.mark.parametrize(
    ("country", "province", "expected"),
    [
        ("CN", "CN-NM", "CN-NM"),  # ISO 3166-2 code of Inner Mongolia
        ("CN", "Inner Mongolia", "CN"),  # free text never reaches PACT's geography
        ("CN", None, "CN"),
        ("CN", "DE-BY", "CN"),  # a subdivision of another country is refused
    ],
)
def test_geography_is_an_iso_code(country, province, expected):
    from epd_footprint.versions import geography

    assert geography(country, province) == expected
