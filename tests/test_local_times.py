"""The Notifications, Requests and Home pages show stored instants in the reader's own zone, in the
app's friendly form ('Today, 14:05', 'Tue 03 Mar, 14:05'), and say which zone that is."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest

from portal.db import SERVICE
from portal.local_times import local_day, local_time, times_caption
from portal.plain_text import plain
from tests.page_support import PAGES, app, no_exceptions
from tests.people_support import make_account

# Tue 3 Mar 2026, 14:05 in Tokyo (UTC+9, no DST) is 05:05 UTC the same day.
NOW = datetime(2026, 3, 3, 5, 5, tzinfo=UTC)


# --- the headless formatting --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("instant", "zone", "expected"),
    [
        ("2026-03-03T05:05:00+00:00", "Asia/Tokyo", "Today, 14:05"),
        ("2026-03-03T05:05:00.123456+00:00", "UTC", "Today, 05:05"),
        ("2026-03-02T14:59:00+00:00", "Asia/Tokyo", "Yesterday, 23:59"),  # still Monday in Tokyo
        ("2026-03-02T15:00:00+00:00", "Asia/Tokyo", "Today, 00:00"),  # Tuesday began in Tokyo, not yet in UTC
        ("2026-03-04T00:30:00+00:00", "Asia/Tokyo", "Tomorrow, 09:30"),
        ("2026-02-27T10:00:00+00:00", "Asia/Tokyo", "Fri 27 Feb, 19:00"),
        ("2025-12-15T23:30:00+00:00", "Asia/Tokyo", "Tue 16 Dec 2025, 08:30"),  # another year names it
        ("2026-03-01T01:00:00+00:00", "America/New_York", "Sat 28 Feb, 20:00"),  # the day before, west of UTC
        ("2026-03-02T12:00:00+09:00", "America/New_York", "Sun 01 Mar, 22:00"),  # any offset in, reader's out
    ],
)
def test_local_time_reads_the_instant_in_the_readers_zone(instant, zone, expected):
    assert local_time(instant, zone, now=NOW) == expected


def test_today_is_the_readers_today_not_utcs():
    # 23:30 UTC on Mon 2 Mar: at NOW (Tue 05:05 UTC) UTC calls it yesterday, Tokyo (Tue 08:30) today.
    assert local_time("2026-03-02T23:30:00+00:00", "UTC", now=NOW) == "Yesterday, 23:30"
    assert local_time("2026-03-02T23:30:00+00:00", "Asia/Tokyo", now=NOW) == "Today, 08:30"
    # At Tue 03:00 UTC it is still Monday 22:00 in New York: Monday 18:30 there is today, not yesterday.
    early = datetime(2026, 3, 3, 3, 0, tzinfo=UTC)
    assert local_time("2026-03-02T23:30:00+00:00", "America/New_York", now=early) == "Today, 18:30"


def test_daylight_saving_is_applied_for_the_instant_not_for_now():
    # New York moves to EDT (UTC-4) on Sun 8 Mar 2026: a summer instant is read with the summer offset.
    assert local_time("2026-07-01T16:00:00+00:00", "America/New_York", now=NOW) == "Wed 01 Jul, 12:00"
    assert local_time("2026-01-15T17:00:00+00:00", "America/New_York", now=NOW) == "Thu 15 Jan, 12:00"


def test_naive_text_and_datetimes_are_taken_as_utc():
    assert local_time("2026-02-27T10:00:00", "Asia/Tokyo", now=NOW) == "Fri 27 Feb, 19:00"
    assert local_time(datetime(2026, 2, 27, 10, 0), "Asia/Tokyo", now=NOW) == "Fri 27 Feb, 19:00"  # noqa: DTZ001 (naive on purpose)
    assert local_time(datetime(2026, 2, 27, 10, 0, tzinfo=UTC), "Asia/Tokyo", now=NOW) == "Fri 27 Feb, 19:00"


def test_local_day_is_the_readers_calendar_day_for_a_sentence():
    assert local_day("2026-03-02T23:30:00+00:00", "Asia/Tokyo", now=NOW) == "today"
    assert local_day("2026-03-02T14:00:00+00:00", "Asia/Tokyo", now=NOW) == "yesterday"
    assert local_day("2026-02-27T20:00:00+00:00", "Asia/Tokyo", now=NOW) == "Sat 28 Feb"
    assert local_day("2025-01-15T23:30:00+00:00", "Asia/Tokyo", now=NOW) == "Thu 16 Jan 2025"


def test_without_now_today_is_the_real_today():
    assert local_time(datetime.now(UTC), "Asia/Tokyo").startswith("Today, ")
    assert local_day(datetime.now(UTC), "America/New_York") == "today"


def test_the_caption_names_the_zone():
    assert times_caption("America/New_York") == "Times are New York time (America/New_York)."
    assert times_caption("Asia/Tokyo", "Dates") == "Dates are Tokyo time (Asia/Tokyo)."
    assert times_caption("UTC") == "Times are UTC."


def test_zones_are_named_in_words():
    from portal.local_times import clock_in_words, zone_words

    assert zone_words("America/New_York") == "New York time"
    assert zone_words("America/Argentina/Buenos_Aires") == "Buenos Aires time"
    assert clock_in_words("2027-01-11T21:00:00+00:00", "America/New_York") == "16:00 New York time"
    # Across a daylight-saving change the same instant reads differently only where the clock moved.
    assert clock_in_words("2026-03-09T13:00:00+00:00", "America/New_York") == "09:00 New York time"
    assert clock_in_words("2026-03-09T13:00:00+00:00", "Europe/London") == "13:00 London time"


# --- the pages, for a member in Tokyo -----------------------------------------------------------------

# 23:30 UTC on 15 Jan 2025 is 08:30 on Thu 16 Jan 2025 in Tokyo: the UTC rendering has neither the day nor the hour.
STORED = "2025-01-15 23:30:00+00"


def tokyo_member(backend, embedded_db) -> tuple[str, str]:
    username = make_account(backend)
    member = backend.rpc("auth_get_login", {"p_username": username}, as_user=SERVICE)["id"]
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        conn.execute("update public.profiles set timezone = 'Asia/Tokyo' where id = %s", (member,))
    return username, member


def test_notifications_page_shows_created_times_in_the_members_zone(backend, embedded_db):
    username, member = tokyo_member(backend, embedded_db)
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        conn.execute(
            "insert into public.notifications (user_id, kind, message, page, created_at) "
            "values (%s, 'test', 'A stored notice from long ago.', 'requests', %s)",
            (member, STORED),
        )
    at = app(username).run()
    at.switch_page(PAGES["notifications"]).run()
    no_exceptions(at)
    line = next(m.value for m in at.markdown if plain("A stored notice from long ago.") in m.value)
    assert "Thu 16 Jan 2025, 08:30" in line, line
    assert "UTC" not in line and "23:30" not in line and "2025-01-15" not in line, line
    assert "Times are Tokyo time (Asia/Tokyo)." in [c.value for c in at.caption]


def test_notifications_page_says_today_for_a_fresh_notification(backend, embedded_db):
    username, member = tokyo_member(backend, embedded_db)
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        created = conn.execute(
            "insert into public.notifications (user_id, kind, message) "
            "values (%s, 'test', 'Something just happened.') returning created_at",
            (member,),
        ).fetchone()[0]
    at = app(username).run()
    at.switch_page(PAGES["notifications"]).run()
    no_exceptions(at)
    line = next(m.value for m in at.markdown if plain("Something just happened.") in m.value)
    assert local_time(created, "Asia/Tokyo") in line, line


def test_requests_page_shows_dates_in_the_members_zone(backend, embedded_db):
    username, member = tokyo_member(backend, embedded_db)
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        consultant = conn.execute("select id from public.profiles where is_consultant order by id limit 1").fetchone()[
            0
        ]
        conn.execute(
            "insert into public.consultation_requests (seeker_id, consultant_id, message, status, "
            "decline_reason, created_at) values (%s, %s, 'an old request', 'declined', 'full', %s)",
            (member, consultant, STORED),
        )
    at = app(username).run()
    at.switch_page(PAGES["requests"]).run()
    no_exceptions(at)
    line = next(m.value for m in at.markdown if "Declined" in m.value and "sent" in m.value)
    assert "sent Thu 16 Jan 2025" in line, line
    assert "2025-01-15" not in line, line
    assert any("Dates are Tokyo time (Asia/Tokyo)." in c.value for c in at.caption)


def test_home_shows_upcoming_sessions_in_the_members_zone(backend, embedded_db):
    """consultant02 (the demo books their sessions), moved to Tokyo: Home lists them in Tokyo time and says so."""
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        (member,) = conn.execute("select user_id from private.credentials where username = 'consultant02'").fetchone()
        (original,) = conn.execute("select timezone from public.profiles where id = %s", (member,)).fetchone()
        starts = conn.execute(
            "select starts_at from public.appointments where %s in (consultant_id, client_id) "
            "and status in ('requested', 'confirmed') and starts_at > now() order by starts_at",
            (member,),
        ).fetchall()
        assert starts, "the demo world books sessions for consultant02"
        conn.execute("update public.profiles set timezone = 'Asia/Tokyo' where id = %s", (member,))
    try:
        at = app("consultant02").run()
        no_exceptions(at)
        assert "Times are Tokyo time (Asia/Tokyo)." in [c.value for c in at.caption]
        first = local_time(starts[0][0], "Asia/Tokyo")
        assert any(m.value.startswith(first) for m in at.markdown), [m.value for m in at.markdown]
    finally:
        with psycopg.connect(embedded_db.owner_conninfo) as conn:
            conn.execute("update public.profiles set timezone = %s where id = %s", (original, member))
