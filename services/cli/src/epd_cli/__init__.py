"""epd_cli package."""
