"""epd_common package."""
