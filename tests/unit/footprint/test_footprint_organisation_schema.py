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
