"""Plant simulator (pure): Baotou-style chain telemetry with noise, resets, bad data and drift."""
