"""epd_publisher package."""
