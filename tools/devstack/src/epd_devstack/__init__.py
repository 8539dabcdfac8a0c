"""The local stack for development, tests and `make run`: real services, started as processes.

Everything lives under one ignored folder (default `.run/` at the repo root). Each component is a
small class with start/stop/is_running so tests can start extra instances (e.g. a three-broker
Kafka cluster in a temporary folder for failure tests).
"""
