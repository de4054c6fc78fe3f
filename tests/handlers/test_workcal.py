"""Working time for SLA clocks: opening hours, weekends, the 2026 PRC holidays and make-up working days."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handlers.clock import CST
from handlers.workcal import WorkCalendar, default_calendar

CAL = default_calendar()
HOUR = 3600
DAY = 34200  # 08:30-18:00


def cst(month: int, day: int, hour: int = 0, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=CST)


def valid(**changes: object) -> dict:
    data: dict = {"hours": {"start": "08:30", "end": "18:00"}, "weekdays": [1, 2, 3, 4, 5]}
    return data | changes


def test_ticket_opened_late_friday_is_due_monday_morning_not_saturday():
    opened = cst(11, 20, 17, 50)  # Friday
    due = CAL.add(opened, 30 * 60)
    assert due == cst(11, 23, 8, 50)  # 10 minutes on Friday, 20 on Monday
    assert CAL.elapsed(opened, cst(11, 21, 9, 0)) == 10 * 60  # Saturday morning: only Friday's 10 minutes ran
    assert CAL.add(opened, 15 * 60) == cst(11, 23, 8, 35)


def test_result_is_utc_and_input_may_be_in_any_zone():
    opened = datetime(2026, 11, 20, 9, 50, tzinfo=UTC)  # Friday 17:50 CST
    due = CAL.add(opened, 30 * 60)
    assert due.tzinfo is UTC
    assert due == datetime(2026, 11, 23, 0, 50, tzinfo=UTC)
    assert CAL.add(datetime(2026, 11, 20, 10, 50, tzinfo=timezone(timedelta(hours=1))), 0) == cst(11, 20, 17, 50)


def test_national_day_week_does_not_count():
    assert CAL.add(cst(9, 30, 17), 2 * HOUR) == cst(10, 8, 9, 30)  # Wednesday; Oct 1-7 off; Thursday Oct 8 works
    assert CAL.elapsed(cst(9, 30, 8, 30), cst(10, 9, 18)) == 3 * DAY  # Sep 30, Oct 8, Oct 9


def test_make_up_saturdays_and_sundays_count():
    assert CAL.add(cst(10, 9, 17), 2 * HOUR) == cst(10, 10, 9, 30)  # Friday → make-up Saturday Oct 10
    assert CAL.add(cst(2, 13, 17), 2 * HOUR) == cst(2, 14, 9, 30)  # Friday → make-up Saturday Feb 14
    assert CAL.add(cst(9, 19, 10), HOUR) == cst(9, 20, 9, 30)  # ordinary Saturday → make-up Sunday Sep 20
    assert [CAL.is_workday(date(2026, 1, d)) for d in range(1, 6)] == [False, False, False, True, True]


def test_spring_festival_and_mid_autumn():
    assert CAL.add(cst(2, 14, 17), 2 * HOUR) == cst(2, 24, 9, 30)  # Feb 15-23 off
    assert CAL.add(cst(9, 24, 17), 2 * HOUR) == cst(9, 28, 9, 30)  # Friday Sep 25 off
    assert not CAL.is_workday(date(2026, 6, 19))  # 端午, a Friday


def test_counting_starts_at_opening():
    assert CAL.add(cst(11, 24, 3), HOUR) == cst(11, 24, 9, 30)
    assert CAL.add(cst(11, 24, 3), 0) == cst(11, 24, 8, 30)
    assert CAL.elapsed(cst(11, 24, 3), cst(11, 24, 8, 30)) == 0


def test_zero_seconds_moves_to_the_next_working_instant():
    assert CAL.add(cst(11, 24, 10, 15), 0) == cst(11, 24, 10, 15)  # during hours: unchanged
    assert CAL.add(cst(11, 20, 18), 0) == cst(11, 23, 8, 30)  # closing time is outside working hours
    assert CAL.add(cst(11, 21, 12), 0) == cst(11, 23, 8, 30)  # Saturday


def test_time_running_out_at_closing_is_due_at_closing():
    assert CAL.add(cst(11, 20, 17), HOUR) == cst(11, 20, 18)
    assert CAL.add(cst(11, 2, 8, 30), 15 * DAY) == cst(11, 20, 18)  # three full weeks, Monday to Friday


def test_elapsed_over_a_weekend_is_zero():
    assert CAL.elapsed(cst(11, 20, 18), cst(11, 23, 8, 30)) == 0
    assert CAL.elapsed(cst(11, 21, 0), cst(11, 22, 23, 59)) == 0


def test_elapsed_is_zero_when_end_is_not_after_start():
    assert CAL.elapsed(cst(11, 24, 12), cst(11, 24, 12)) == 0
    assert CAL.elapsed(cst(11, 24, 12), cst(11, 24, 10)) == 0


def test_elapsed_across_months():
    # October 2026: 22 weekdays, 5 of them in the National Day holiday, plus make-up Saturday Oct 10.
    assert CAL.elapsed(cst(10, 1), cst(11, 1)) == 18 * DAY
    # All of 2026: 261 weekdays, 19 of them holidays, plus 6 make-up days.
    assert CAL.elapsed(cst(1, 1), cst(1, 1, year=2027)) == 248 * DAY


def test_day_seconds():
    assert CAL.day_seconds == DAY


def test_years_the_file_does_not_list_count_weekdays_only():
    assert CAL.covers(date(2026, 10, 1))
    assert not CAL.covers(date(2027, 1, 1))
    assert CAL.is_workday(date(2027, 1, 1))  # a Friday; its 元旦 holiday is unknown here
    assert not CAL.is_workday(date(2027, 1, 2))


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        CAL.add(datetime(2026, 11, 20, 17, 50), 60)
    with pytest.raises(ValueError, match="timezone-aware"):
        CAL.elapsed(cst(11, 20), datetime(2026, 11, 21))


def test_negative_seconds_are_refused():
    with pytest.raises(ValueError, match="not negative"):
        CAL.add(cst(11, 20), -1)


def test_from_dict_builds_a_calendar():
    cal = WorkCalendar.from_dict(
        valid(holidays={2026: ["2026-10-01", date(2026, 10, 2)]}, workdays={"2026": ["2026-10-10"]})
    )
    assert cal.holidays == {date(2026, 10, 1), date(2026, 10, 2)}
    assert cal.workdays == {date(2026, 10, 10)}
    assert cal.years == {2026}
    assert cal.day_seconds == DAY


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (valid(hours={"start": "18:00", "end": "08:30"}), "end after they start"),
        (valid(hours={"start": "08:30", "end": "08:30"}), "end after they start"),
        (valid(hours={"start": "8 点半", "end": "18:00"}), "hours.start"),
        (valid(hours={"start": "08:30"}), "hours must be"),
        (valid(weekdays=[1, 8]), "ISO weekday"),
        (valid(weekdays=[]), "ISO weekday"),
        (valid(holidays={2026: ["2026-02-30"]}), "'2026-02-30' is not a date"),
        (valid(holidays={2026: ["next friday"]}), "is not a date"),
        (valid(holidays={2026: ["2027-01-01"]}), "another year"),
        (valid(holidays={2026: ["2026-10-10"]}, workdays={2026: ["2026-10-10"]}), "both a holiday"),
        (valid(holiday={2026: []}), "unknown keys"),
        ([], "expected a mapping"),
    ],
)
def test_from_dict_rejects_bad_data(data, message):
    with pytest.raises(ValueError, match=message):
        WorkCalendar.from_dict(data)


def test_from_file_names_the_file_in_errors(tmp_path):
    path = tmp_path / "calendar.yaml"
    path.write_text('hours: {start: "18:00", end: "08:30"}\nweekdays: [1, 2, 3, 4, 5]\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"calendar\.yaml"):
        WorkCalendar.from_file(path)


# Starts from late 2025 to early 2027: covered days, holidays, and uncovered years on both sides.
starts = st.datetimes(
    min_value=datetime(2025, 12, 1),
    max_value=datetime(2027, 2, 1),
    timezones=st.sampled_from([UTC, CST, timezone(timedelta(hours=-5))]),
)
# Up to 30 working days, in whole microseconds, so the round trip is exact.
working_seconds = st.integers(min_value=0, max_value=30 * DAY * 10**6).map(lambda us: us / 10**6)


@settings(max_examples=200, deadline=None)
@given(starts, working_seconds)
def test_elapsed_undoes_add(start, seconds):
    due = CAL.add(start, seconds)
    assert due >= start
    assert CAL.elapsed(start, due) == seconds


@settings(max_examples=200, deadline=None)
@given(starts, working_seconds, working_seconds)
def test_add_is_monotonic_in_seconds(start, a, b):
    assert CAL.add(start, min(a, b)) <= CAL.add(start, max(a, b))


def walked(cal, start, seconds):
    """The day-by-day walk `add` replaced: the plain reading of the rule it must keep."""
    remaining, cursor = timedelta(seconds=seconds), start.astimezone(CST)
    day = cursor.date()
    while True:
        if cal.is_workday(day):
            begin = max(cursor, datetime.combine(day, cal.start, CST))
            close = datetime.combine(day, cal.end, CST)
            if begin < close:
                if remaining <= close - begin:
                    return (begin + remaining).astimezone(UTC)
                remaining -= close - begin
        day += timedelta(days=1)
        cursor = datetime.combine(day, time(), CST)


@settings(max_examples=300, deadline=None)
@given(starts, working_seconds | st.sampled_from([0, CAL.day_seconds, 2 * CAL.day_seconds, 5 * CAL.day_seconds]))
def test_add_counts_whole_days_as_the_walk_does(start, seconds):
    assert CAL.add(start, seconds) == walked(CAL, start, seconds)
