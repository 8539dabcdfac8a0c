"""epd_gateway package."""
