"""Pure footprint domain rules: drift, the EPD version lifecycle, and the drift cascade."""
