"""Small helpers shared by the benchmarks: timing, summary statistics, output, scratch databases.

This machine is shared and noisy, so benchmarks report medians and ratios
rather than means or single runs; these helpers make that the easy path.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

from sqlalchemy.engine import URL, make_url

from config import normalise_database_url

# Database names are interpolated into DDL (they cannot be bound parameters),
# so only plain lower-case identifiers are accepted.

SIGNIFICANT_DIGITS = 3

ResultValue = float | int | str | None


def percentile(values: Sequence[float], pct: float) -> float:
    """The ``pct``-th percentile (0-100), interpolating linearly between ranks.

    Linear interpolation (NumPy's default) keeps small samples meaningful:
    the 90th percentile of 5 timings is not simply the largest one.
    """
    if not values:
        raise ValueError("percentile of an empty sequence")
    if not 0 <= pct <= 100:
        raise ValueError(f"percentile must be between 0 and 100, got {pct}")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100
    lower = math.floor(rank)
    upper = math.ceil(rank)
    fraction = rank - lower
    return ordered[lower] + (ordered[upper] - ordered[lower]) * fraction


def median(values: Sequence[float]) -> float:
    """The middle value: robust to the pauses a shared machine adds to a few samples."""
    return percentile(values, 50)


class Timer:
    """A ``time.perf_counter`` stopwatch that can split laps.

    ``perf_counter`` is monotonic and has the finest resolution available, which
    matters for sub-millisecond fixture costs.
    """

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self._last_lap = self.started
        self._stopped: float | None = None

    def lap(self) -> float:
        """Seconds since the previous lap (or the start); splits one run into phases."""
        now = time.perf_counter()
        split = now - self._last_lap
        self._last_lap = now
        return split

    def stop(self) -> float:
        self._stopped = time.perf_counter()
        return self.elapsed

    @property
    def elapsed(self) -> float:
        """Seconds from the start to ``stop()``, or to now while still running."""
        end = self._stopped if self._stopped is not None else time.perf_counter()
        return end - self.started


@contextmanager
def timed() -> Iterator[Timer]:
    """Time a ``with`` block: ``with timed() as timer: ...`` then read ``timer.elapsed``."""
    timer = Timer()
    try:
        yield timer
    finally:
        timer.stop()


def format_value(value: ResultValue) -> str:
    """A RESULT value: ``None`` is ``n/a``; floats keep about three significant digits.

    Fixed notation (never ``1.6e+02``) keeps the line easy to read and to grep.
    """
    if value is None:
        return "n/a"
    if isinstance(value, str):
        if not value or any(char.isspace() or char == "=" for char in value):
            raise ValueError(f"RESULT values must be single words, got {value!r}")
        return value
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        return str(value)
    if value == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(value)))
    decimals = max(0, SIGNIFICANT_DIGITS - 1 - magnitude)
    return f"{value:.{decimals}f}"


def result_line(name: str, **values: ResultValue) -> str:
    """``RESULT <name> key=value ...``: the one line a benchmark's caller parses."""
    fields = " ".join(f"{key}={format_value(value)}" for key, value in values.items())
    return f"RESULT {name} {fields}".rstrip()


def positive_int(text: str) -> int:
    """An ``argparse`` type: a whole number of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


POSTGRES_URL_VARIABLE = "BENCH_POSTGRES_URL"
POSTGRES_URL_EXAMPLE = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def postgres_server(environ: Mapping[str, str]) -> tuple[URL | None, str]:
    """The server URL to use, or ``None`` and why PostgreSQL is skipped."""
    raw = environ.get(POSTGRES_URL_VARIABLE, "").strip()
    if not raw:
        return None, f"{POSTGRES_URL_VARIABLE} is not set (e.g. {POSTGRES_URL_EXAMPLE})"
    url = make_url(normalise_database_url(raw))
    if url.get_backend_name() != "postgresql":
        return None, f"{POSTGRES_URL_VARIABLE} is not a PostgreSQL URL ({url.drivername})"
    return url, ""
