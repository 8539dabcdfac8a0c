"""CSV replay for backfills: `timestamp,<column>,...` rows, resumable through a state file.

Every `checkpoint_rows` rows the open batch is flushed to the spool, then the number of rows done
is written to the state file (atomically: temp file, fsync, rename). After a crash the replay
resumes at the last checkpoint; rows after it are read again and ingest drops the readings it
already accepted as duplicates (same meter and timestamp), so nothing is lost or counted twice.
"""

from __future__ import annotations

import asyncio
import csv
import json
import logging
import os
from pathlib import Path

from rich.progress import Progress

from epd_connector import metrics
from epd_connector.runtime import ConnectorRuntime
from epd_connector.sources.values import EdgeError, decimal_text, timestamp

log = logging.getLogger(__name__)


def _read_state(path: Path, csv_path: Path) -> int:
    try:
        data = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return 0
    except (OSError, ValueError):
        data = None
    rows_done = data.get("rows_done", 0) if isinstance(data, dict) else None
    if not isinstance(rows_done, int) or isinstance(rows_done, bool):
        log.warning("state file %s unreadable; starting %s from the top", path, csv_path)
        return 0
    if data.get("file") != str(csv_path.resolve()):
        return 0
    return max(0, rows_done)


def _data_rows(csv_path: Path) -> int:
    with open(csv_path, newline="", encoding="utf-8") as f:
        return sum(1 for _ in f) - 1


def _write_state(path: Path, csv_path: Path, rows_done: int) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump({"file": str(csv_path.resolve()), "rows_done": rows_done}, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class CsvReplay:
    def __init__(
        self,
        runtime: ConnectorRuntime,
        csv_path: Path,
        state_path: Path,
        *,
        checkpoint_rows: int = 50,
        rows_per_second: float = 0.0,
        progress: bool = False,
    ) -> None:
        self._rt = runtime
        self._csv = csv_path
        self._state = state_path
        self._checkpoint = max(1, checkpoint_rows)
        self._rate = rows_per_second
        self._progress = progress
        self._columns = {m.sources.csv.column: m for m in runtime.plant.meters if m.sources.csv}
        self.rows_done = 0

    async def run(self, stop: asyncio.Event) -> int:
        """Replay from the saved position to the end (or until `stop`); returns rows done."""
        start = _read_state(self._state, self._csv)
        total = await asyncio.to_thread(_data_rows, self._csv)  # reads the whole file: off the event loop
        self.rows_done = start
        f = await asyncio.to_thread(open, self._csv, newline="", encoding="utf-8")
        with Progress(disable=not self._progress) as bar, f:
            task = bar.add_task(f"replay {self._csv.name}", total=max(total, 0), completed=start)
            reader = csv.DictReader(f)
            if "timestamp" not in (reader.fieldnames or []):
                raise EdgeError(f"{self._csv}: the header needs a 'timestamp' column")
            for i, row in enumerate(reader):
                if i < start:
                    continue
                if stop.is_set():
                    break
                await self._rt.submit(self._readings(row, i), "files")
                self.rows_done = i + 1
                bar.advance(task)
                if self.rows_done % self._checkpoint == 0:
                    await self._save()
                if self._rate > 0:
                    await asyncio.sleep(1 / self._rate)
                elif i % 200 == 0:
                    await asyncio.sleep(0)
        await self._save()
        return self.rows_done

    async def _save(self) -> None:
        await self._rt.flush()
        await asyncio.to_thread(_write_state, self._state, self._csv, self.rows_done)

    def _readings(self, row: dict, index: int) -> list:
        try:
            at = timestamp(row.get("timestamp") or "")
        except EdgeError as exc:
            metrics.SOURCE_ERRORS.labels("files", "bad_timestamp").inc()
            log.warning("%s row %d skipped: %s", self._csv.name, index + 2, exc)
            return []
        out = []
        for column, meter in self._columns.items():
            text = row.get(column)
            if text is None or text == "":
                continue
            try:
                out.append(self._rt.reading(meter, decimal_text(text), at, f"csv:{self._csv.name}:{index + 2}"))
            except EdgeError as exc:
                metrics.SOURCE_ERRORS.labels("files", "bad_value").inc()
                log.warning("%s row %d column %s skipped: %s", self._csv.name, index + 2, column, exc)
        return out
