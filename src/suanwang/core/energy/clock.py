"""Hour arithmetic for hourly signals: time is counted in whole hours since the Unix epoch (UTC).

Every hourly series in :mod:`suanwang.core.energy` is indexed by *epoch hours*: the number of
whole hours between 1970-01-01T00:00Z and the start of the hour. They are plain ``int64``
numpy arrays, so calendars are computed vectorized and without time zones.

Contracts: the functions here are pure; ``datetime`` arguments must be timezone-aware.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt

from suanwang.core.errors import SuanwangError

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
HOURS_PER_DAY = 24


def epoch_hour(moment: datetime) -> int:
    """The epoch hour that contains ``moment`` (floored to the hour).

    Raises:
        SuanwangError: ``moment`` has no time zone.
    """
    if moment.utcoffset() is None:
        raise SuanwangError(f"time {moment.isoformat()} has no time zone; add one, e.g. 'Z'")
    return int((moment - _EPOCH) // timedelta(hours=1))


def hour_start(hour: int) -> datetime:
    """The UTC start of epoch hour ``hour``."""
    return _EPOCH + timedelta(hours=int(hour))


def hour_range(start: int, count: int) -> npt.NDArray[np.int64]:
    """``count`` consecutive epoch hours from ``start``."""
    return np.arange(start, start + count, dtype=np.int64)


def _days_to_civil(
    days: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """(year, month, day) of days since 1970-01-01 (proleptic Gregorian; H. Hinnant's method)."""
    z = days + 719468
    era = np.floor_divide(z, 146097)
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = np.where(mp < 10, mp + 3, mp - 9)
    y = np.where(m <= 2, y + 1, y)
    return y, m, d


def civil(
    epoch_hours: npt.NDArray[np.int64], utc_offset_hours: float = 0.0
) -> tuple[
    npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]
]:
    """(year, month, day, hour) on the local clock at ``utc_offset_hours`` of each epoch hour.

    Offsets that are not whole hours (India's +5:30) are floored to the local hour.
    """
    minutes = np.asarray(epoch_hours, dtype=np.int64) * 60 + round(utc_offset_hours * 60)
    hours = np.floor_divide(minutes, 60)
    days = np.floor_divide(hours, HOURS_PER_DAY)
    y, m, d = _days_to_civil(days)
    return y, m, d, hours - days * HOURS_PER_DAY


def local_hour_and_month(
    epoch_hours: npt.NDArray[np.int64], utc_offset_hours: float
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Local clock hour (0-23) and month (1-12) of each epoch hour."""
    _, m, _, h = civil(epoch_hours, utc_offset_hours)
    return h, m


def day_of_year(
    epoch_hours: npt.NDArray[np.int64], utc_offset_hours: float = 0.0
) -> npt.NDArray[np.int64]:
    """Day of the year (0-based) on the local clock."""
    y, _, _, _ = civil(epoch_hours, utc_offset_hours)
    minutes = np.asarray(epoch_hours, dtype=np.int64) * 60 + round(utc_offset_hours * 60)
    days = np.floor_divide(minutes, 60 * HOURS_PER_DAY)
    jan1 = _days_from_civil(y, np.ones_like(y), np.ones_like(y))
    return days - jan1


def _days_from_civil(
    y: npt.NDArray[np.int64], m: npt.NDArray[np.int64], d: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """Days since 1970-01-01 of a civil date (inverse of :func:`_days_to_civil`)."""
    y = np.where(m <= 2, y - 1, y)
    era = np.floor_divide(y, 400)
    yoe = y - era * 400
    mp = np.where(m > 2, m - 3, m + 9)
    doy = (153 * mp + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    out: npt.NDArray[np.int64] = era * 146097 + doe - 719468
    return out


def year_start(year: int) -> int:
    """The epoch hour of 1 January 00:00 UTC of ``year``."""
    one = np.array([year], dtype=np.int64)
    return int(_days_from_civil(one, np.array([1]), np.array([1]))[0]) * HOURS_PER_DAY


def year_hours(year: int) -> npt.NDArray[np.int64]:
    """Every epoch hour of calendar year ``year`` (UTC): 8,760 or 8,784 of them."""
    return np.arange(year_start(year), year_start(year + 1), dtype=np.int64)


def same_hour_in_year(epoch_hours: npt.NDArray[np.int64], year: int) -> npt.NDArray[np.int64]:
    """Map each epoch hour to the hour with the same UTC month, day and hour in ``year``.

    Used to replay a measured year (a pack's 2022) for another year. 29 February maps to
    28 February when ``year`` is not a leap year.
    """
    _, m, d, h = civil(epoch_hours)
    leap = (year % 4 == 0 and year % 100 != 0) or year % 400 == 0
    d = np.where((m == 2) & (d == 29) & (not leap), 28, d)
    y = np.full_like(m, year)
    return _days_from_civil(y, m, d) * HOURS_PER_DAY + h
