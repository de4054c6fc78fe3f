"""Working time for SLA clocks: opening hours on working days, with the PRC's public holidays and make-up days.

Working time is counted in China Standard Time; every datetime in or out is timezone-aware (any zone in, UTC out).
Each working day is the half-open interval [start, end) of local time. Arithmetic is done in whole microseconds, the
resolution of `datetime`, so `elapsed(a, add(a, s)) == s` holds exactly whenever `s` is a whole number of
microseconds. `elapsed` walks day by day, so a year-long span costs a few hundred steps; `add` counts whole
working days and remembers the day it found.

A year the calendar file does not list has no holidays: its weekdays simply work. That is a silent fallback here;
/healthz checks `covers(day)` a month ahead (bot/ops.calendar_check) and says which year to add.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from handlers.clock import CST

DEFAULT_CALENDAR_PATH = Path(__file__).with_name("calendar.yaml")

_DAY = timedelta(days=1)
_MICROSECOND = timedelta(microseconds=1)
_KEYS = {"hours", "weekdays", "holidays", "workdays"}


@dataclass(frozen=True)
class WorkCalendar:
    """Opening hours, working weekdays, and the dated exceptions of the years the calendar covers."""

    start: time
    end: time
    weekdays: frozenset[int]  # ISO numbers, 1 = Monday
    holidays: frozenset[date]  # days off, whatever their weekday
    workdays: frozenset[date]  # make-up working days (调休上班), whatever their weekday
    years: frozenset[int]  # years whose holidays and make-up days are listed

    def __post_init__(self) -> None:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("working hours are local CST times; give them without a time zone")
        if self.start >= self.end:
            raise ValueError(f"working hours must end after they start: {self.start:%H:%M}-{self.end:%H:%M}")
        # Without a working weekday, `add` past the last make-up day would never find an opening.
        if not self.weekdays or not self.weekdays <= set(range(1, 8)):
            raise ValueError(f"weekdays must be ISO weekday numbers 1-7, at least one: {sorted(self.weekdays)}")
        if both := self.holidays & self.workdays:
            raise ValueError(f"both a holiday and a make-up working day: {', '.join(map(str, sorted(both)))}")

    @classmethod
    def from_file(cls, path: Path | str) -> WorkCalendar:
        """Load and validate a calendar YAML file (the layout of handlers/calendar.yaml)."""
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
        return cls.from_dict(data, source=str(path))

    @classmethod
    def from_dict(cls, data: Any, source: str = "<dict>") -> WorkCalendar:
        """Build a calendar from already-parsed data; a ValueError names the first thing that is wrong."""
        if not isinstance(data, dict):
            raise ValueError(f"{source}: expected a mapping with 'hours' and 'weekdays'")
        if unknown := set(data) - _KEYS:
            raise ValueError(f"{source}: unknown keys {sorted(map(str, unknown))}; expected {sorted(_KEYS)}")
        hours = data.get("hours")
        if not isinstance(hours, dict) or set(hours) != {"start", "end"}:
            raise ValueError(f'{source}: hours must be {{start: "08:30", end: "18:00"}}, got {hours!r}')
        weekdays = data.get("weekdays")
        if not isinstance(weekdays, list) or not all(type(d) is int for d in weekdays):
            raise ValueError(f"{source}: weekdays must be a list of ISO weekday numbers, got {weekdays!r}")
        holidays = _dates(data.get("holidays"), "holidays", source)
        workdays = _dates(data.get("workdays"), "workdays", source)
        try:
            return cls(
                start=_time(hours["start"], "hours.start", source),
                end=_time(hours["end"], "hours.end", source),
                weekdays=frozenset(weekdays),
                holidays=frozenset(d for days in holidays.values() for d in days),
                workdays=frozenset(d for days in workdays.values() for d in days),
                years=frozenset(holidays) | frozenset(workdays),
            )
        except ValueError as e:
            raise ValueError(f"{source}: {e}") from None

    def covers(self, day: date) -> bool:
        """Whether the calendar lists this day's year; if not, its holidays are unknown and only weekdays count."""
        return day.year in self.years

    def is_workday(self, day: date) -> bool:
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        return day.isoweekday() in self.weekdays

    @property
    def day_seconds(self) -> float:
        """Length of one working day in seconds (34200 for 08:30-18:00)."""
        return (self._close(date.min) - self._open(date.min)).total_seconds()

    def add(self, start: datetime, seconds: float) -> datetime:
        """The instant at which `seconds` of working time have run since `start`, in UTC.

        A start outside working hours counts from the next opening. For seconds > 0 the answer is the earliest
        such instant, so time that runs out exactly at closing is due at closing (Friday 18:00, not Monday 08:30).
        For seconds == 0 it is the next working instant: `start` itself during working hours, else the next opening.
        `seconds` is rounded to whole microseconds.
        """
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"working seconds must be finite and not negative, got {seconds!r}")
        remaining = timedelta(seconds=seconds)
        cursor = _local(start, "start")
        day = cursor.date()
        if self.is_workday(day):
            begin, close = max(cursor, self._open(day)), self._close(day)
            if begin < close:
                if remaining <= close - begin:
                    return (begin + remaining).astimezone(UTC)
                remaining -= close - begin
        # Whole working days from the next one on: counted, not walked (a complaint's clocks ask six times).
        full, rest = divmod(remaining, self._close(day) - self._open(day))
        if full and not rest:
            return self._close(_working_day_after(self, day, full)).astimezone(UTC)
        return (self._open(_working_day_after(self, day, full + 1)) + rest).astimezone(UTC)

    def elapsed(self, start: datetime, end: datetime) -> float:
        """Working seconds in [start, end); 0 if end <= start."""
        begin, finish = _local(start, "start"), _local(end, "end")
        total = timedelta()
        day = begin.date()
        while day <= finish.date():
            if self.is_workday(day):
                total += max(timedelta(), min(finish, self._close(day)) - max(begin, self._open(day)))
            day += _DAY
        return (total // _MICROSECOND) / 1_000_000

    def _open(self, day: date) -> datetime:
        return datetime.combine(day, self.start, CST)

    def _close(self, day: date) -> datetime:
        return datetime.combine(day, self.end, CST)


@lru_cache(maxsize=4096)
def _working_day_after(cal: WorkCalendar, day: date, n: int) -> date:
    """The n-th working day after `day` (n >= 1), remembered: the same few days are asked for all day long."""
    while n:
        day += _DAY
        n -= cal.is_workday(day)
    return day


@lru_cache(maxsize=1)
def default_calendar() -> WorkCalendar:
    """The bundled calendar, handlers/calendar.yaml, loaded once."""
    return WorkCalendar.from_file(DEFAULT_CALENDAR_PATH)


def _local(dt: datetime, name: str) -> datetime:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {dt.isoformat()}")
    return dt.astimezone(CST)


def _time(value: Any, name: str, source: str) -> time:
    if not isinstance(value, str):
        raise ValueError(f'{source}: {name} must be a quoted "HH:MM", got {value!r}')
    try:
        return time.fromisoformat(value)
    except ValueError:
        raise ValueError(f'{source}: {name} must be "HH:MM", got {value!r}') from None


def _dates(value: Any, name: str, source: str) -> dict[int, list[date]]:
    """{year: [day, …]} from YAML, where days may be quoted strings or YAML dates and each must lie in its year."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{source}: {name} must map a year to a list of dates, got {value!r}")
    years: dict[int, list[date]] = {}
    for key, days in value.items():
        try:
            year = int(key)
        except (TypeError, ValueError):
            raise ValueError(f"{source}: {name}: {key!r} is not a year") from None
        if not isinstance(days, list):
            raise ValueError(f"{source}: {name}.{year} must be a list of dates, got {days!r}")
        years[year] = [_date(d, f"{name}.{year}", source) for d in days]
        if strays := [d for d in years[year] if d.year != year]:
            raise ValueError(f"{source}: {name}.{year} lists days of another year: {', '.join(map(str, strays))}")
    return years


def _date(value: Any, name: str, source: str) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError(f"{source}: {name}: {value!r} is not a date (YYYY-MM-DD)") from None
