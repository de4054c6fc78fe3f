"""Local time for what people read: China Standard Time has no daylight saving, so a fixed offset is exact."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

CST = timezone(timedelta(hours=8), "CST")


def local(dt: datetime) -> datetime:
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).astimezone(CST)


def fmt(dt: datetime | None) -> str:
    """ "11月23日 14:05" — what a resident or worker expects to read."""
    if dt is None:
        return ""
    d = local(dt)
    return f"{d.month}月{d.day}日 {d:%H:%M}"


def period(name: str, now: datetime) -> tuple[datetime, datetime, str]:
    """[start, end) in UTC of 今日 / 本周 / 本月 / 上月 in local time, and the name to show."""
    today = local(now).replace(hour=0, minute=0, second=0, microsecond=0)
    if name in ("本周", "本星期"):
        start = today - timedelta(days=today.weekday())
        return start.astimezone(UTC), now + timedelta(seconds=1), "本周"
    if name == "本月":
        return today.replace(day=1).astimezone(UTC), now + timedelta(seconds=1), "本月"
    if name == "上月":
        end = today.replace(day=1)
        start = (end - timedelta(days=1)).replace(day=1)
        return start.astimezone(UTC), end.astimezone(UTC), "上月"
    return today.astimezone(UTC), now + timedelta(seconds=1), "今日"
