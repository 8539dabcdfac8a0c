"""Connector sources: each maps its input to configured meters and submits RawReadings to the runtime."""
