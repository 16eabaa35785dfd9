"""Progress of a long job, readable by the web while the job's transaction is still open.

An all-or-nothing job (an import applied in one transaction) cannot show its progress in
its own rows: nobody sees them before the commit, and SQLite lets no other connection
write meanwhile. So the job writes a small JSON file under ``DATA_DIR/progress``, which
every web and worker process of the installation shares (it already shares the uploads).
The file's time is also the job's heartbeat.
"""

import contextlib
import json
import os
import tempfile
import time
from pathlib import Path

from django.conf import settings


def _path(key: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in key)
    return Path(settings.ISMS_PROGRESS_DIR) / f"{safe}.json"


def write(key: str, percent: int, step: str = "") -> None:
    """Replace the progress of ``key`` atomically (readers never see half a file)."""
    path = _path(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    body = json.dumps({"percent": max(0, min(100, int(percent))), "step": step[:200]})
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(body)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read(key: str) -> dict | None:
    """``{"percent", "step", "age"}`` (age in seconds since the last write), or None."""
    path = _path(key)
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        age = max(0.0, time.time() - path.stat().st_mtime)
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    percent, step = int(data.get("percent") or 0), str(data.get("step") or "")
    return {"percent": percent, "step": step, "age": age}


def clear(key: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        _path(key).unlink()


class Tracker:
    """Counts units of work and writes the percentage at most every ``every`` seconds.

    ``should_stop`` is asked at each write; when it answers true, ``Cancelled`` is raised so
    that the job's transaction rolls back and the job can be queued again.
    """

    def __init__(self, key: str, total: int, *, should_stop=lambda: False, every: float = 0.5):
        self.key, self.total, self.should_stop, self.every = key, max(total, 1), should_stop, every
        self.done = 0
        self.step = ""
        self._last = 0.0

    def begin(self, step: str) -> None:
        self.step = step
        self._write(force=True)

    def advance(self, n: int = 1) -> None:
        self.done += n
        self._write()

    def _write(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < self.every:
            return
        if self.should_stop():
            raise Cancelled("the worker is stopping")
        self._last = now
        write(self.key, min(99, 100 * self.done // self.total), self.step)


class _Silent:
    """A tracker for work done inside a request: nobody polls it."""

    def begin(self, step: str) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass


SILENT = _Silent()


class Cancelled(Exception):
    """The worker is stopping: the job rolls back and goes back to the queue."""
