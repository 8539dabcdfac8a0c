"""The whole system on one machine with simulated plants: what `make run` and the end-to-end test start.

`system.DemoSystem` seeds the registry, products, EPDs and a partner (seed.py), starts every service
as a process (services.py), a partner webhook receiver (receiver.py) and one simulator per plant,
and `console.py` shows it live. Data files are in deploy/demo/.
"""
