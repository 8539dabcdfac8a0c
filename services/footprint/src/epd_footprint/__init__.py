"""epd_footprint package."""
