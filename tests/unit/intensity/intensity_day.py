"""A simulated plant-day for the example process config, built with the unit-test builders.

Deterministic for a seed. Arrival order is realistic and hostile: small jitter, some readings held
back up to 90 minutes (late revisions within the example's 2 h lateness), a few held back > 2 h
(too late: correction log), resent duplicates, one hour with zero output, and bad readings
(unknown activity, a reagent without a factor, an unknown process). A closing reading the next
morning moves the watermark past the day so the day's hourly, daily and 30-day windows close.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path

from intensity_builders import at, reading

from epd.v1 import telemetry_pb2

EXAMPLE_CONFIG = Path(__file__).parents[3] / "services/intensity/config/processes.example.yaml"
DAY = "2024-03-12"
# activity, typical quantity per 10 minutes, by process of the example config
METERS: dict[str, list[tuple[str, float]]] = {
    "baotou-1/mine-beneficiation": [
        ("electricity.grid", 900),
        ("fuel.diesel", 1.2),
        ("output.re-concentrate", 800),
        ("output.iron-ore", 2500),
    ],
    "baotou-1/roasting": [
        ("electricity.grid", 400),
        ("fuel.coal", 6),
        ("reagent.h2so4", 700),
        ("output.roasted-ore", 750),
    ],
    "baotou-1/leaching": [("electricity.grid", 150), ("reagent.hcl", 120), ("output.re-chloride-solution", 600)],
    "baotou-1/solvent-extraction": [
        ("electricity.grid", 300),
        ("reagent.naoh", 40),
        ("reagent.kerosene", 3),
        ("output.ndpr-oxide", 20),
        ("output.la-ce-oxide", 80),
    ],
    "baotou-1/electrolysis": [("electricity.grid", 1800), ("gas.cf4", 0.02), ("output.nd-metal", 150)],
    "baotou-1/magnet": [
        ("electricity.grid", 500),
        ("steam.purchased", 1.5),
        ("output.ndfeb-magnet", 120),
        ("output.swarf", 6),
    ],
}


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def plant_day(seed: int = 7, step_minutes: int = 10, day: str = DAY) -> list[telemetry_pb2.Reading]:
    """Readings in arrival order."""
    rng = random.Random(seed)
    start = at(f"{day}T00:00:00")
    timed: list[tuple[float, telemetry_pb2.Reading]] = []
    n = 0
    for minute in range(0, 24 * 60, step_minutes):
        for pid, meters in METERS.items():
            for activity, typical in meters:
                if minute // 60 == 13 and activity.startswith("output.") and pid.endswith("/leaching"):
                    continue  # an hour without output: intensity undefined for it
                when = start + timedelta(minutes=minute, seconds=rng.randrange(0, 60 * step_minutes))
                qty = f"{typical * rng.uniform(0.8, 1.2):.3f}"
                n += 1
                msg = reading(pid, activity, qty, _stamp(when), reading_id=f"{day}-{seed}-{n}")
                arrival = when.timestamp() + rng.uniform(0, 120)
                roll = rng.random()
                if roll < 0.03:
                    arrival += rng.uniform(900, 5400)  # late, within the 2 h lateness
                elif roll < 0.035:
                    arrival += rng.uniform(3 * 3600, 5 * 3600)  # too late: correction log
                timed.append((arrival, msg))
                if rng.random() < 0.01:
                    timed.append((arrival + rng.uniform(1, 600), msg))  # resent duplicate
    bad_at = start + timedelta(hours=9, minutes=5)
    timed.append(
        (
            bad_at.timestamp(),
            reading(
                "baotou-1/roasting", "reagent.unobtainium", "5", _stamp(bad_at), reading_id=f"{day}-{seed}-no-factor"
            ),
        )
    )
    unknown = reading("baotou-1/roasting", "electricity.grid", "5", _stamp(bad_at), reading_id=f"{day}-{seed}-unknown")
    unknown.activity = "electricity.teleport"
    timed.append((bad_at.timestamp(), unknown))
    timed.append(
        (
            bad_at.timestamp(),
            reading("baotou-1/nowhere", "electricity.grid", "5", _stamp(bad_at), reading_id=f"{day}-{seed}-no-process"),
        )
    )
    timed.sort(key=lambda item: item[0])
    closing = start + timedelta(days=1, hours=3)
    out = [msg for _, msg in timed]
    out.append(reading("baotou-1/magnet", "electricity.grid", "1", _stamp(closing), reading_id=f"{day}-{seed}-close"))
    return out
