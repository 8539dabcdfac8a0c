"""When is a backlog through the pipeline, and what if it never is: the drain criteria of the scale
scenario, and the restarts (an orchestrator's) it applies to a worker that stopped consuming."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from epd_common.topics import TELEMETRY_RAW, TELEMETRY_READINGS

from . import observe
from .system import ScaleSystem

if TYPE_CHECKING:
    from .scenario import Params, Timeline


async def wait_drained(series: observe.LagSeries, prefix: str, timeout_s: float, quiet_s: float = 5.0) -> float | None:
    """Wall time the backlog was through ingest and intensity: the intensity group's lag is zero and the
    readings topic and ingest's committed offsets have not moved for `quiet_s` (ingest saves and commits a
    poll's offsets when the next poll comes, so idle it can stay a few records 'behind'); that moment is
    the last change. None when nothing moved for `timeout_s` with lag left (wedged), or after an hour."""
    raw, readings = TELEMETRY_RAW.topic(prefix), TELEMETRY_READINGS.topic(prefix)
    started = time.time()
    while time.time() < started + 3600:
        await asyncio.sleep(1)
        watched = [v for k, v in series.lag.items() if k[1] in (raw, readings)] + [series.highwater.get(readings, [])]
        if not all(watched):
            continue
        last_change = max(max(_last_change(v) for v in watched), started)
        intensity = [v for k, v in series.lag.items() if k[1] == readings]
        if intensity and all(v[-1][1] == 0 for v in intensity) and time.time() - last_change >= quiet_s:
            return last_change
        if time.time() - last_change >= timeout_s:
            return None
    return None


def _last_change(samples: list[tuple[float, float]]) -> float:
    for i in range(len(samples) - 1, 0, -1):
        if samples[i][1] != samples[i - 1][1]:
            return samples[i][0]
    return samples[0][0]


def last_lag(series: observe.LagSeries, topic: str) -> float:
    return sum(v[-1][1] for k, v in series.lag.items() if k[1] == topic and v)


async def check_ingest_idle(
    system: ScaleSystem,
    series: observe.LagSeries,
    prefix: str,
    n: int,
    raw_left: float,
    drained: float,
    p: Params,
    timeline: Timeline,
    log,
) -> float | None:
    """Ingest's committed offsets are still behind once nothing moves: either polls it handled but has not
    saved yet (it saves when the next poll comes) or records it never consumed (wedged). Restart ingest
    gracefully (it saves on stop) and see whether readings appear: if they do, it had stopped consuming,
    and the backlog drained only now."""
    readings = TELEMETRY_READINGS.topic(prefix)
    before = series.highwater[readings][-1][1]
    for name in system.workers["ingest"]:
        await asyncio.to_thread(system.restart, name)
    again = await wait_drained(series, prefix, p.drain_timeout_s)
    grew = series.highwater[readings][-1][1] - before
    verdict = (
        f"readings records grew by {grew:,.0f}: ingest had stopped consuming (wedged) and the backlog drained"
        " only after the restart"
        if grew
        else "no readings appeared: they had been processed, their offsets only not yet committed"
    )
    note = (
        f"{n} + {n} processes: when nothing moved any more, ingest's committed offsets were {raw_left:,.0f} raw"
        f" records behind; ingest was restarted gracefully and {verdict}."
    )
    log("  " + note)
    timeline.notes.append(note)
    return again if grew else drained


async def restart_wedged(
    system: ScaleSystem, series: observe.LagSeries, prefix: str, n: int, waited_s: float, timeline: Timeline, log
) -> float | None:
    """The backlog did not drain: restart the workers of every stage still lagging (a liveness probe's
    restart), say so in the report, and wait again."""
    stuck = {
        stage: series.lag[k][-1][1]
        for k in series.lag
        for topic, stage in ((TELEMETRY_RAW.topic(prefix), "ingest"), (TELEMETRY_READINGS.topic(prefix), "intensity"))
        if k[1] == topic and series.lag[k] and series.lag[k][-1][1] > 0
    }
    note = (
        f"{n} + {n} processes: the backlog stopped draining for {waited_s:.0f} s (lag left:"
        f" {', '.join(f'{k} {v:,.0f} records' for k, v in stuck.items())}; see their logs in the run"
        " directory); those workers were restarted"
    )
    log("  " + note)
    for stage in stuck:
        for name in system.workers[stage]:
            await asyncio.to_thread(system.restart, name)
    drained = await wait_drained(series, prefix, waited_s)
    timeline.notes.append(note + (", and then it drained." if drained else ", and it still did not drain."))
    return drained
