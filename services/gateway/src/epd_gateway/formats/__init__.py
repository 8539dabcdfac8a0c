"""Format mappings of footprint versions: PACT v3, ILCD+EPD v1.2, openEPD, PACT CloudEvents (pure)."""
