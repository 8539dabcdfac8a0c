"""epd_intensity package."""
