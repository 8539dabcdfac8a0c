"""epd_connector package."""
