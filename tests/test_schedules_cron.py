"""The cron math of schedules, with an injected clock: zones, seconds, DST, missed fires."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import islice, pairwise
from zoneinfo import ZoneInfo

import pytest

from server import errors, schedules

BERLIN = ZoneInfo("Europe/Berlin")
GRACE = timedelta(seconds=10)


def fires(expression: str, tz: ZoneInfo, after: datetime, count: int) -> list[str]:
    return [f.isoformat() for f in islice(schedules.fires_after(expression, tz, after), count)]


def test_five_fields_in_utc() -> None:
    after = datetime(2024, 1, 1, 10, 7, tzinfo=UTC)
    assert fires("*/15 * * * *", ZoneInfo("UTC"), after, 3) == [
        "2024-01-01T10:15:00+00:00",
        "2024-01-01T10:30:00+00:00",
        "2024-01-01T10:45:00+00:00",
    ]


def test_fires_are_strictly_after_now() -> None:
    on_the_dot = datetime(2024, 1, 1, 10, 15, tzinfo=UTC)
    assert fires("*/15 * * * *", ZoneInfo("UTC"), on_the_dot, 1) == ["2024-01-01T10:30:00+00:00"]


def test_six_fields_take_seconds_first() -> None:
    after = datetime(2024, 1, 1, 10, 0, 0, 400_000, tzinfo=UTC)
    assert fires("*/20 * * * * *", ZoneInfo("UTC"), after, 4) == [
        "2024-01-01T10:00:20+00:00",
        "2024-01-01T10:00:40+00:00",
        "2024-01-01T10:01:00+00:00",
        "2024-01-01T10:01:20+00:00",
    ]
    # seconds first: "30 0 9" is 09:00:30, not croniter's seconds-last reading
    assert fires("30 0 9 * * *", ZoneInfo("UTC"), after, 1) == ["2024-01-02T09:00:30+00:00"]


def test_a_non_utc_zone_fires_on_its_own_clock() -> None:
    kolkata = ZoneInfo("Asia/Kolkata")
    after = datetime(2024, 6, 1, tzinfo=UTC)
    (first,) = islice(schedules.fires_after("0 9 * * MON-FRI", kolkata, after), 1)
    assert first.isoformat() == "2024-06-03T09:00:00+05:30"
    assert first.astimezone(UTC) == datetime(2024, 6, 3, 3, 30, tzinfo=UTC)


def test_daily_0230_across_spring_forward_runs_once_at_the_end_of_the_gap() -> None:
    # 2024-03-31: Berlin skips 02:00-03:00
    after = datetime(2024, 3, 29, 12, tzinfo=BERLIN)
    assert fires("30 2 * * *", BERLIN, after, 4) == [
        "2024-03-30T02:30:00+01:00",
        "2024-03-31T03:00:00+02:00",
        "2024-04-01T02:30:00+02:00",
        "2024-04-02T02:30:00+02:00",
    ]


def test_daily_0230_across_fall_back_runs_once() -> None:
    # 2024-10-27: Berlin lives 02:00-03:00 twice (+02:00, then +01:00)
    after = datetime(2024, 10, 25, 12, tzinfo=BERLIN)
    assert fires("30 2 * * *", BERLIN, after, 3) == [
        "2024-10-26T02:30:00+02:00",
        "2024-10-27T02:30:00+02:00",
        "2024-10-28T02:30:00+01:00",
    ]
    # the same with seconds: fixed hours, so once too
    assert fires("15 30 2 * * *", BERLIN, after, 3) == [
        "2024-10-26T02:30:15+02:00",
        "2024-10-27T02:30:15+02:00",
        "2024-10-28T02:30:15+01:00",
    ]


def test_a_wildcard_hour_follows_real_time_through_the_repeated_hour() -> None:
    after = datetime(2024, 10, 27, 1, 10, tzinfo=BERLIN)
    assert fires("*/30 * * * *", BERLIN, after, 6) == [
        "2024-10-27T01:30:00+02:00",
        "2024-10-27T02:00:00+02:00",
        "2024-10-27T02:30:00+02:00",
        "2024-10-27T02:00:00+01:00",
        "2024-10-27T02:30:00+01:00",
        "2024-10-27T03:00:00+01:00",
    ]
    instants = islice(schedules.fires_after("*/30 * * * *", BERLIN, after), 6)
    gaps = {b.astimezone(UTC) - a.astimezone(UTC) for a, b in pairwise(instants)}
    assert gaps == {timedelta(minutes=30)}


def test_every_second_across_fall_back_never_repeats_an_instant() -> None:
    after = datetime(2024, 10, 27, 0, 59, 58, tzinfo=UTC)  # 02:59:58+02:00
    instants = list(islice(schedules.fires_after("* * * * * *", BERLIN, after), 4))
    assert [f.isoformat() for f in instants] == [
        "2024-10-27T02:59:59+02:00",
        "2024-10-27T02:00:00+01:00",
        "2024-10-27T02:00:01+01:00",
        "2024-10-27T02:00:02+01:00",
    ]


def test_late_fires_within_the_grace_all_run() -> None:
    now = datetime(2024, 1, 1, 10, 0, 3, 500_000, tzinfo=UTC)
    due = datetime(2024, 1, 1, 10, 0, 0, tzinfo=UTC)
    plan = schedules.plan("* * * * * *", ZoneInfo("UTC"), due=due, now=now, grace=GRACE)
    assert [f.second for f in plan.fires] == [0, 1, 2, 3]
    assert plan.next_fire == datetime(2024, 1, 1, 10, 0, 4, tzinfo=UTC)


def test_fires_missed_while_down_run_once_then_the_schedule_goes_on_from_now() -> None:
    due = datetime(2024, 1, 1, 10, 0, tzinfo=UTC)
    now = datetime(2024, 1, 1, 13, 7, 30, tzinfo=UTC)  # down for three hours
    plan = schedules.plan("*/5 * * * *", ZoneInfo("UTC"), due=due, now=now, grace=GRACE)
    assert plan.fires == (due,)
    assert plan.next_fire == datetime(2024, 1, 1, 13, 10, tzinfo=UTC)


def test_a_fire_exactly_due_runs_alone() -> None:
    due = datetime(2024, 1, 1, 10, 0, tzinfo=UTC)
    plan = schedules.plan("0 * * * *", ZoneInfo("UTC"), due=due, now=due, grace=GRACE)
    assert plan.fires == (due,)
    assert plan.next_fire == datetime(2024, 1, 1, 11, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "expression",
    ["* * * *", "0 0 * * * * 2030", "61 * * * *", "*/0 * * * *", "a b c d e", "0 0 30 2 *", ""],
)
def test_bad_crons_are_named_on_the_schedule_field(expression: str) -> None:
    with pytest.raises(errors.Invalid) as caught:
        schedules.check_cron(expression, datetime(2024, 1, 1, tzinfo=UTC))
    assert caught.value.details[0]["path"] == "schedule"


@pytest.mark.parametrize("name", ["Mars/Olympus", "utc", "", "../etc/passwd", "Europe"])
def test_unknown_zones_are_named_on_the_timezone_field(name: str) -> None:
    with pytest.raises(errors.Invalid) as caught:
        schedules.zone(name)
    assert caught.value.details == [
        {"path": "timezone", "message": caught.value.details[0]["message"]}
    ]
