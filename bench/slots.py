"""Open-slots benchmark: 8 weeks of a busy consultant's open slots, as one of their clients asks for them.

    python bench/slots.py            # on the 50,000-consultant world (also run by bench/run.py)
    python bench/slots.py --quick    # on the 2,000-consultant world, 40 calls after 10 warm-up
    python bench/slots.py --apply fix.sql   # on a scratch copy with a proposed SQL fix applied

Measured: `open_slots(backend, Claims.user(client), consultant, today, today + 56 days, client)`
(portal/availability.py) through LocalBackend, round-robin over the busy consultants, after a
warm-up. Prints a table and merges `slots_8w_*` into bench/results.json.

The bench world (bench/generate.py) has no engagements or appointments. This module adds them
in a copy of it, the database `portal_busy` in the same embedded cluster (made once a day, then
reused; the search benchmark's database is never touched), as the owner role, deterministically:

- background: every seeker but the 60 reserved below has 1-2 engagements (mean 1.5), each with its
  own consultant, and a weekly session at a fixed UTC hour from up to 52 weeks ago to 8 weeks
  ahead (past: completed / no-show / cancelled; ahead: confirmed / requested / cancelled);
- 5 busy consultants (bench consultants 1-5): weekly hours Mon-Fri 08-12 and 13-18 and Sat 09-13
  in their own zone, 50 + 10 minute sessions, a weekly maximum of 40; 3 date overrides (a day off,
  two changed days) and 4 days of time off in the 8 weeks; 8 engaged clients each (reserved
  seekers); 20-30 requested/confirmed appointments a week over those 8 weeks, plus cancelled
  and declined ones. Each busy consultant's first client (who asks for the slots) is also a
  client of the next busy consultant, with 2 sessions a week there, so their own busy times count;
- 3 contested consultants (bench consultants 6-8) for the load test (bench/load.py): weekly hours
  Mon-Sat 08-20, no appointments, and all 60 reserved seekers engaged with each;
- history: every consultant from 9 on has 0-3 former clients (mean 1.5), each an ended engagement
  with 4-30 past weekly sessions (completed, no-shows of either side, cancellations by either side),
  so the cards' professionalism records (consultant_records, bench/page.py) read real appointments;
- every active engagement's consultant holds a current licence where the client lives (the
  residence rule of 20261129000400: without it no booking can be made).

Both exclusion constraints (consultant incl. buffer, client) hold for what is inserted.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import psycopg  # noqa: E402
from psycopg import sql  # noqa: E402

from bench.checks import Checks  # noqa: E402
from bench.generate import CA_TYPES, FULL, QUICK, World, WorldSpec, _helpers_sql, ensure_world  # noqa: E402
from portal.availability import open_slots  # noqa: E402
from portal.db.bootstrap import DATABASE, OWNER, migration_files  # noqa: E402
from portal.db.claims import Claims  # noqa: E402
from portal.db.local import LocalBackend  # noqa: E402

SETUP_VERSION = 2
BUSY_DATABASE = "portal_busy"
RESULTS_PATH = Path(__file__).resolve().parent / "results.json"
WINDOW_DAYS = 56
TARGETS = {"slots_8w_p50_ms": ("<=", 10.0)}

BUSY = [1, 2, 3, 4, 5]  # bench consultant numbers
CONTESTED = [6, 7, 8]
BACKGROUND_FIRST = 101  # background pair p goes to bench consultant BACKGROUND_FIRST + p
HISTORY_FIRST = max(CONTESTED) + 1  # consultants from here on get a past of ended engagements
RESERVED = 60  # the last 60 seekers: clients of the designated consultants, load-test users
BUSY_CLIENTS = 8
PER_WEEK = (20, 30)
SESSION, BUFFER = 50, 10
# (ISO weekday, start, end) in the consultant's zone
BUSY_HOURS = (
    [(d, "08:00", "12:00") for d in range(1, 6)]
    + [(d, "13:00", "18:00") for d in range(1, 6)]
    + [(6, "09:00", "13:00")]
)
CONTESTED_HOURS = [(d, "08:00", "20:00") for d in range(1, 7)]


def consultant_id(i: int) -> str:
    return str(uuid.UUID(hashlib.md5(f"bench-consultant:{i}".encode()).hexdigest()))


def seeker_id(i: int) -> str:
    return str(uuid.UUID(hashlib.md5(f"bench-seeker:{i}".encode()).hexdigest()))


@dataclass
class BusyConsultant:
    id: str
    number: int
    timezone: str
    caller: str  # the client who asks for the slots
    clients: list[str]
    active_appointments: int = 0
    inactive_appointments: int = 0
    caller_elsewhere: int = 0  # the caller's active sessions with the next busy consultant
    overrides: list[str] = field(default_factory=list)
    time_off: str = ""


@dataclass
class BusySetup:
    database: str
    busy: list[BusyConsultant]
    contested: list[str]
    reserved: list[str]  # reserved seekers, in order; load users come from the end
    counts: dict[str, int]
    setup_s: float
    reused: bool
    today: str


# --------------------------------------------------------------------------------------
# Building the busy copy
# --------------------------------------------------------------------------------------
_BACKGROUND_SQL = """
create temp table b_pair on commit drop as
select x.p, x.s, md5('bench-seeker:' || x.s)::uuid as seeker,
       md5('bench-consultant:' || (%(bg_first)s + x.p))::uuid as consultant,
       x.p %% 50 as slot, (8 + pg_temp.h(x.p, 'bg_weeks') %% 45)::int as weeks_back
from (select s.s, k.k, (s.s - 1) * 2 + k.k as p
      from generate_series(1, %(bg_seekers)s) s(s), generate_series(0, 1) k(k)
      where k.k = 0 or pg_temp.u(s.s, 'bg_second') < 0.5) x
where %(bg_first)s + x.p <= %(consultants)s;

insert into public.consultation_requests (id, seeker_id, consultant_id, message, status, created_at, responded_at)
select md5('bench-request:' || p)::uuid, seeker, consultant, 'Bench: a consultation request.', 'accepted',
       current_date - 7 * weeks_back - 5, current_date - 7 * weeks_back - 4
from b_pair;

insert into public.engagements (id, request_id, seeker_id, consultant_id, status, started_at)
select md5('bench-engagement:' || p)::uuid, md5('bench-request:' || p)::uuid, seeker, consultant, 'active',
       current_date - 7 * weeks_back - 4
from b_pair;

-- One session a week per pair at a fixed UTC hour (slot: weekday 0-4, hour 14-23). A seeker's two
-- pairs have different slots and every pair has its own consultant, so nothing active overlaps.
insert into public.appointments (consultant_id, client_id, engagement_id, starts_at, ends_at, blocked_until, status,
                                 requested_by, responded_at, cancelled_by, cancelled_at, cancel_reason, notice_hours,
                                 late, created_at)
select consultant, seeker, eng, st, st + interval '50 minutes', st + interval '60 minutes', status,
       case when pg_temp.u(q, 'bg_by') < 0.5 then consultant else seeker end,
       case when status <> 'requested' then st - interval '6 days' end,
       case when status = 'cancelled' then case when pg_temp.u(q, 'bg_cby') < 0.5 then consultant else seeker end end,
       case when status = 'cancelled' then st - make_interval(hours => notice) end,
       case when status = 'cancelled' then 'Bench: a schedule change.' end,
       case when status = 'cancelled' then notice end,
       status = 'cancelled' and notice < 24,
       st - interval '7 days'
from (
  select y.*, case when y.st < now() then case when pg_temp.u(y.q, 'bg_status') < 0.88 then 'completed'
                                               when pg_temp.u(y.q, 'bg_status') < 0.91 then 'no_show'
                                               else 'cancelled' end
                   else case when pg_temp.u(y.q, 'bg_status') < 0.75 then 'confirmed'
                             when pg_temp.u(y.q, 'bg_status') < 0.90 then 'requested'
                             else 'cancelled' end end as status,
         (1 + pg_temp.h(y.q, 'bg_notice') %% 96)::int as notice
  from (
    select b.consultant, b.seeker, md5('bench-engagement:' || b.p)::uuid as eng,
           ((date_trunc('week', current_date)::date + 7 * w + b.slot / 10)::timestamp
             + make_interval(hours => 14 + b.slot %% 10)) at time zone 'UTC' as st,
           b.p::bigint * 100 + w + 60 as q
    from b_pair b cross join lateral generate_series(-b.weeks_back, 7) w
  ) y
) z;
"""

# Past work of every other consultant (bench consultants 9 and up), so that each card's professionalism
# record (public.consultant_records) reads a realistic history: 0-3 former clients each (mean 1.5, some
# consultants have none), each an ended engagement with 4-30 weekly sessions that ended 1-60 weeks ago:
# 84 % completed, 4 % the client's no-show, 2 % the consultant's, 10 % cancelled (by either side, some
# late). Only past, inactive sessions: no exclusion constraint is involved. The request was answered
# 1-96 hours after it was sent, so the answer times vary.
_HISTORY_SQL = """
create temp table b_hist on commit drop as
select x.c::bigint * 4 + x.k as q, md5('bench-consultant:' || x.c)::uuid as consultant,
       md5('bench-seeker:' || (1 + pg_temp.h(x.c::bigint * 4 + x.k, 'h_seeker') %% %(hist_seekers)s))::uuid as seeker,
       (4 + pg_temp.h(x.c::bigint * 4 + x.k, 'h_sessions') %% 27)::int as sessions,
       (1 + pg_temp.h(x.c::bigint * 4 + x.k, 'h_ended') %% 60)::int as ended_weeks_ago,
       (pg_temp.h(x.c::bigint * 4 + x.k, 'h_slot') %% 50)::int as slot,
       (1 + pg_temp.h(x.c::bigint * 4 + x.k, 'h_answer') %% 96)::int as answer_hours
from (select c.c, k.k from generate_series(%(hist_first)s::int, %(consultants)s::int) c(c)
      cross join lateral generate_series(1, (pg_temp.h(c.c, 'h_pairs') %% 4)::int) k(k)) x;

insert into public.consultation_requests (id, seeker_id, consultant_id, message, status, created_at, responded_at)
select md5('bench-history-request:' || q)::uuid, seeker, consultant, 'Bench: a consultation request.', 'accepted',
       (current_date - 7 * (ended_weeks_ago + sessions) - 5)::timestamptz,
       (current_date - 7 * (ended_weeks_ago + sessions) - 5)::timestamptz + make_interval(hours => answer_hours)
from b_hist;

insert into public.engagements (id, request_id, seeker_id, consultant_id, status, started_at, ended_at)
select md5('bench-history-engagement:' || q)::uuid, md5('bench-history-request:' || q)::uuid, seeker, consultant,
       'ended', current_date - 7 * (ended_weeks_ago + sessions) - 4, current_date - 7 * ended_weeks_ago + 1
from b_hist;

insert into public.appointments (consultant_id, client_id, engagement_id, starts_at, ends_at, blocked_until, status,
                                 requested_by, responded_at, cancelled_by, cancelled_at, cancel_reason, notice_hours,
                                 late, created_at)
select consultant, seeker, eng, st, st + interval '50 minutes', st + interval '60 minutes', status,
       case when pg_temp.u(r, 'h_by') < 0.5 then consultant else seeker end,
       st - interval '6 days',
       case when status = 'cancelled' then case when pg_temp.u(r, 'h_cby') < 0.4 then consultant else seeker end end,
       case when status = 'cancelled' then st - make_interval(hours => notice) end,
       case when status = 'cancelled' then 'Bench: a schedule change.' end,
       case when status = 'cancelled' then notice end,
       status = 'cancelled' and notice < 24,
       st - interval '7 days'
from (
  select y.*, case when pg_temp.u(y.r, 'h_status') < 0.84 then 'completed'
                   when pg_temp.u(y.r, 'h_status') < 0.88 then 'no_show'
                   when pg_temp.u(y.r, 'h_status') < 0.90 then 'consultant_no_show'
                   else 'cancelled' end as status,
         (1 + pg_temp.h(y.r, 'h_notice') %% 96)::int as notice
  from (
    select h.consultant, h.seeker, md5('bench-history-engagement:' || h.q)::uuid as eng,
           ((date_trunc('week', current_date)::date - 7 * (h.ended_weeks_ago + h.sessions - w) + h.slot / 10)::timestamp
             + make_interval(hours => 14 + h.slot %% 10)) at time zone 'UTC' as st,
           h.q * 32 + w as r
    from b_hist h cross join lateral generate_series(0, h.sessions - 1) w
  ) y
) z;
"""

# Consultants are licensed where their clients live: every active engagement's consultant holds a
# current, verified licence in the client's home jurisdiction (added, or renewed when expired).
_LICENSED_WHERE_CLIENTS_LIVE_SQL = """
insert into public.licenses as l (profile_id, license_type, license_number, jurisdiction, expires_on,
                                  verification_status, verified_at)
select distinct on (e.consultant_id, p.home_jurisdiction)
       e.consultant_id, coalesce(%(ca_types)s::jsonb ->> p.home_jurisdiction, 'LPC'),
       p.home_jurisdiction || '-B' || lpad((abs(hashtext(e.consultant_id::text)) %% 1000000)::text, 6, '0'),
       p.home_jurisdiction, current_date + 400, 'verified', now()
from public.engagements e
join public.profiles p on p.id = e.seeker_id
where e.status = 'active'
  and not exists (select 1 from public.licenses x
                  where x.profile_id = e.consultant_id and x.jurisdiction = p.home_jurisdiction
                    and x.expires_on >= current_date + 60)
on conflict (profile_id, jurisdiction) do update
  set expires_on = excluded.expires_on, verification_status = 'verified', verified_at = excluded.verified_at
"""

_PAIR_SQL = """
insert into public.consultation_requests (id, seeker_id, consultant_id, message, status, created_at, responded_at)
select md5('bench-request:' || s || ':' || c)::uuid, s::uuid, c::uuid, 'Bench: a consultation request.', 'accepted',
       current_date - 60, current_date - 59
from unnest(%(seekers)s::text[], %(consultants)s::text[]) x(s, c);
insert into public.engagements (id, request_id, seeker_id, consultant_id, status, started_at)
select md5('bench-engagement:' || s || ':' || c)::uuid, md5('bench-request:' || s || ':' || c)::uuid,
       s::uuid, c::uuid, 'active', current_date - 59
from unnest(%(seekers)s::text[], %(consultants)s::text[]) x(s, c);
"""


def _fingerprint(world: World) -> dict[str, Any]:
    source = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]
    migrations = hashlib.sha256(b"".join(path.read_bytes() for _, _, path in migration_files())).hexdigest()[:16]
    return {
        "version": SETUP_VERSION,
        "source": source,
        "world": world.spec.name,
        "world_generated": world.info.get("generation_s"),
        "migrations": migrations,
        "date": datetime.now(UTC).date().isoformat(),
    }


def _database_exists(world: World, name: str) -> bool:
    with psycopg.connect(world.db.superuser_uri, autocommit=True) as conn:
        return conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone() is not None


def copy_database(world: World, template: str, name: str, sql_files: list[Path] | None = None, log=print) -> str:
    """`name` made afresh from `template` (no one may be connected to it), with sql_files applied as the owner."""
    with psycopg.connect(world.db.superuser_uri, autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
        conn.execute(
            sql.SQL("create database {} template {} owner {}").format(
                sql.Identifier(name), sql.Identifier(template), sql.Identifier(OWNER)
            )
        )
    if sql_files:
        with psycopg.connect(world.db.conninfo(OWNER, name), autocommit=True) as conn:
            for path in sql_files:
                log(f"applying {path} to {name}")
                with conn.transaction():
                    conn.execute(path.read_text())
            conn.execute("analyze")
    return name


def _span(start: datetime, minutes: int) -> tuple[datetime, datetime]:
    return start, start + timedelta(minutes=minutes)


def _overlaps(ranges: list[tuple[datetime, datetime]], lo: datetime, hi: datetime) -> bool:
    return any(a < hi and lo < b for a, b in ranges)


def _busy_appointments(
    conn: psycopg.Connection,
    busy: list[BusyConsultant],
    engagements: dict[tuple[str, str], str],
    today: date,
    seed: int,
) -> list[tuple]:
    """Appointments for the busy consultants, on their own open-slot grid; both exclusion constraints hold."""
    rows: list[dict[str, Any]] = []
    client_ranges: dict[str, list[tuple[datetime, datetime]]] = {}
    first, last = today + timedelta(days=2), today + timedelta(days=WINDOW_DAYS + 1)  # stable through the day
    per_consultant: list[list[dict[str, Any]]] = []
    for k, c in enumerate(busy):
        slots = [
            r[0]
            for r in conn.execute("select starts_at from public.open_slots(%s, %s, %s) order by 1", (c.id, first, last))
        ]
        chosen: list[dict[str, Any]] = []
        for week in range(9):
            in_week = [s for s in slots if week * 7 <= (s.date() - first).days < week * 7 + 7]
            rng = random.Random(f"{seed}:busy:{k}:{week}")
            n = min(rng.randint(*PER_WEEK), int(len(in_week) * 0.7))
            for j, start in enumerate(sorted(rng.sample(in_week, n))):
                client = c.clients[(week * 3 + j) % len(c.clients)]
                chosen.append(
                    {
                        "consultant": c.id,
                        "client": client,
                        "start": start,
                        "status": "confirmed" if rng.random() < 0.65 else "requested",
                        "by_client": rng.random() < 0.7,
                    }
                )
            # Inactive ones (do not block), anywhere on the grid, possibly where an active one is.
            for j, start in enumerate(rng.sample(in_week, min(3, len(in_week)))):
                rows.append(
                    {
                        "consultant": c.id,
                        "client": c.clients[(week + j) % len(c.clients)],
                        "start": start,
                        "status": "declined" if j == 2 else "cancelled",
                        "by_client": j % 2 == 0,
                    }
                )
        per_consultant.append(chosen)
        for a in chosen:
            client_ranges.setdefault(a["client"], []).append(_span(a["start"], SESSION))
    # The caller of consultant k-1 also has two sessions a week with consultant k.
    for k, chosen in enumerate(per_consultant):
        cross = busy[k - 1].caller
        rng = random.Random(f"{seed}:cross:{k}")
        for week in range(9):
            in_week = [
                a
                for a in chosen
                if week * 7 <= (a["start"].date() - first).days < week * 7 + 7 and a["client"] != cross
            ]
            moved = 0
            for a in rng.sample(in_week, len(in_week)):
                lo, hi = _span(a["start"], SESSION)
                if moved == 2 or _overlaps(client_ranges[cross], lo, hi):
                    continue
                client_ranges[a["client"]].remove((lo, hi))
                a["client"] = cross
                client_ranges[cross].append((lo, hi))
                moved += 1
    for k, chosen in enumerate(per_consultant):
        busy[k].active_appointments = len(chosen)
        busy[k].caller_elsewhere = sum(a["client"] == busy[k].caller for a in per_consultant[(k + 1) % len(busy)])
        rows.extend(chosen)
    for c in busy:
        c.inactive_appointments = sum(
            1 for r in rows if r["consultant"] == c.id and r["status"] in ("cancelled", "declined")
        )
    out = []
    for r in rows:
        start, c, s = r["start"], r["consultant"], r["client"]
        by = s if r["by_client"] else c
        created = start - timedelta(days=10)
        responded = start - timedelta(days=9) if r["status"] in ("confirmed", "declined", "cancelled") else None
        cancelled = r["status"] == "cancelled"
        out.append(
            (
                c,
                s,
                engagements[(s, c)],
                start,
                start + timedelta(minutes=SESSION),
                start + timedelta(minutes=SESSION + BUFFER),
                r["status"],
                by,
                responded,
                "Bench: that time does not work." if r["status"] == "declined" else None,
                by if cancelled else None,
                start - timedelta(days=3) if cancelled else None,
                "Bench: a schedule change." if cancelled else None,
                72 if cancelled else None,
                created,
            )
        )
    return out


# The statement triggers that keep each member's record facts (migration 20261207600100).
RECORD_FACTS_TRIGGERS = {
    "appointments": (
        "appointments_record_facts_insert",
        "appointments_record_facts_update",
        "appointments_record_facts_delete",
    ),
    "consultation_requests": (
        "requests_record_facts_insert",
        "requests_record_facts_update",
        "requests_record_facts_delete",
    ),
}


def switch_record_facts_triggers(conn: psycopg.Connection, how: str) -> None:
    """`how` is "disable" or "enable"; only these triggers (the build's other rules stay on)."""
    for table, triggers in RECORD_FACTS_TRIGGERS.items():
        for trigger in triggers:
            conn.execute(
                sql.SQL("alter table {} {} trigger {}").format(
                    sql.Identifier("public", table), sql.SQL(how), sql.Identifier(trigger)
                )
            )


def _build(world: World, name: str, log=print) -> tuple[list[BusyConsultant], dict[str, int], str]:
    spec = world.spec
    reserved = [seeker_id(i) for i in range(spec.seekers - RESERVED + 1, spec.seekers + 1)]
    busy_ids = [consultant_id(i) for i in BUSY]
    contested = [consultant_id(i) for i in CONTESTED]
    counts: dict[str, int] = {}
    with psycopg.connect(world.db.conninfo(OWNER, name)) as conn:
        conn.execute(_helpers_sql(spec.seed))
        today = conn.execute("select current_date").fetchone()[0]
        zones = dict(
            conn.execute(
                "select id::text, timezone from public.profiles where id = any(%s::uuid[])", (busy_ids,)
            ).fetchall()
        )
        conn.execute("alter table public.engagements disable trigger engagements_count_active")
        # The records' kept facts are made once at the end (each statement would recompute its members' facts,
        # planned on the copy's empty-table statistics), with the migration's own function.
        switch_record_facts_triggers(conn, "disable")
        # Background engagements and weekly sessions.
        params = {"bg_first": BACKGROUND_FIRST, "bg_seekers": spec.seekers - RESERVED, "consultants": spec.consultants}
        for statement in [s for s in _BACKGROUND_SQL.split(";\n") if s.strip()]:
            conn.execute(statement, {k: v for k, v in params.items() if f"%({k})s" in statement})

        # Every other consultant's past work, for the cards' professionalism records (no notices: history).
        conn.execute("alter table public.consultation_requests disable trigger requests_notify")
        params = {"hist_first": HISTORY_FIRST, "hist_seekers": spec.seekers - RESERVED, "consultants": spec.consultants}
        for statement in [s for s in _HISTORY_SQL.split(";\n") if s.strip()]:
            conn.execute(statement, {k: v for k, v in params.items() if f"%({k})s" in statement})
        conn.execute("alter table public.consultation_requests enable trigger requests_notify")

        # The designated consultants: settings, hours, overrides, time off.
        designated = busy_ids + contested
        conn.execute(
            """update public.availability_settings
                        set session_minutes = %s, buffer_minutes = %s, min_notice_hours = 24, late_cancel_hours = 24,
                            max_sessions_per_week = case when consultant_id = any(%s::uuid[]) then 40 end,
                            accepting_new_clients = true, capacity = 60
                        where consultant_id = any(%s::uuid[])""",
            (SESSION, BUFFER, busy_ids, designated),
        )
        conn.execute("delete from public.weekly_hours where consultant_id = any(%s::uuid[])", (designated,))
        with conn.cursor() as cur:
            cur.executemany(
                "insert into public.weekly_hours (consultant_id, weekday, starts_at, ends_at) values (%s, %s, %s, %s)",
                [(c, d, s, e) for c in busy_ids for d, s, e in BUSY_HOURS]
                + [(c, d, s, e) for c in contested for d, s, e in CONTESTED_HOURS],
            )
        busy: list[BusyConsultant] = []
        for k, cid in enumerate(busy_ids):
            clients = reserved[k * BUSY_CLIENTS : (k + 1) * BUSY_CLIENTS]
            c = BusyConsultant(id=cid, number=BUSY[k], timezone=zones[cid], caller=clients[0], clients=clients)
            overrides = [
                (today + timedelta(days=9 + k), None, None),
                (today + timedelta(days=16 + k), "10:00", "14:00"),
                (today + timedelta(days=37 + k), "12:00", "20:00"),
            ]
            off = (today + timedelta(days=23 + k), today + timedelta(days=26 + k))
            with conn.cursor() as cur:
                cur.executemany(
                    "insert into public.date_overrides (consultant_id, on_date, starts_at, ends_at)"
                    " values (%s, %s, %s, %s)",
                    [(cid, d, s, e) for d, s, e in overrides],
                )
            conn.execute(
                "insert into public.time_off (consultant_id, starts_on, ends_on, note)"
                " values (%s, %s, %s, 'Bench: away')",
                (cid, *off),
            )
            c.overrides = [f"{d.isoformat()} {'off' if s is None else f'{s}-{e}'}" for d, s, e in overrides]
            c.time_off = f"{off[0].isoformat()}..{off[1].isoformat()}"
            busy.append(c)

        # Engagements of the designated consultants (reserved seekers only).
        pairs = [(s, c.id) for c in busy for s in c.clients]
        pairs += [(busy[k - 1].caller, busy[k].id) for k in range(len(busy))]
        pairs += [(s, c) for c in contested for s in reserved]
        for statement in [s for s in _PAIR_SQL.split(";\n") if s.strip()]:
            conn.execute(statement, {"seekers": [p[0] for p in pairs], "consultants": [p[1] for p in pairs]})
        conn.execute(_LICENSED_WHERE_CLIENTS_LIVE_SQL, {"ca_types": json.dumps(CA_TYPES)})
        engagements = {
            (s, c): e
            for e, s, c in conn.execute(
                "select id::text, seeker_id::text, consultant_id::text from public.engagements"
                " where consultant_id = any(%s::uuid[])",
                (busy_ids,),
            ).fetchall()
        }
        rows = _busy_appointments(conn, busy, engagements, today, spec.seed)
        with conn.cursor() as cur:
            cur.executemany(
                """insert into public.appointments (consultant_id, client_id, engagement_id, starts_at, ends_at,
                       blocked_until, status, requested_by, responded_at, decline_reason, cancelled_by, cancelled_at,
                       cancel_reason, notice_hours, created_at)
                   values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
                rows,
            )
        conn.execute("alter table public.engagements enable trigger engagements_count_active")
        conn.execute(
            """update public.availability_settings s
                        set active_clients = (select count(*) from public.engagements e
                                              where e.consultant_id = s.consultant_id and e.status = 'active')
                        where s.consultant_id = any(%s::uuid[])""",
            (designated,),
        )
        for table in ("consultation_requests", "engagements", "appointments", "notifications", "licenses"):
            counts[table] = conn.execute(f"select count(*) from public.{table}").fetchone()[0]
        counts["active_appointments"] = conn.execute(
            "select count(*) from public.appointments where status in ('requested', 'confirmed')"
        ).fetchone()[0]
        conn.commit()
    with psycopg.connect(world.db.conninfo(OWNER, name), autocommit=True) as conn:
        conn.execute(
            "vacuum (analyze) public.consultation_requests, public.engagements, public.appointments,"
            " public.notifications, public.weekly_hours, public.date_overrides, public.time_off,"
            " public.availability_settings, public.licenses"
        )
        # On again once the load is committed (deferred rules' events are pending until then), then filled once.
        switch_record_facts_triggers(conn, "enable")
        t0 = time.perf_counter()
        conn.execute("select private.refresh_all_record_facts()")
        counts["record_facts_kept"] = conn.execute("select count(*) from private.record_facts_kept").fetchone()[0]
        log(f"  records' kept facts: {counts['record_facts_kept']:,} rows in {time.perf_counter() - t0:.1f} s")
    return busy, counts, today.isoformat()


def ensure_busy(world: World, *, name: str = BUSY_DATABASE, log=print) -> BusySetup:
    """The busy copy of the bench world: made from `portal` unless an identical one is there today."""
    meta_path = Path(world.info["data_dir"]) / "busy.json"
    fingerprint = _fingerprint(world)
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else None
    if (
        meta
        and meta.get("fingerprint") == fingerprint
        and meta.get("database") == name
        and _database_exists(world, name)
    ):
        setup = meta["setup"]
        return BusySetup(**{**setup, "busy": [BusyConsultant(**b) for b in setup["busy"]], "reused": True})
    log(f"making {name}: busy and contested consultants, engagements, appointments")
    t0 = time.perf_counter()
    copy_database(world, DATABASE, name)
    busy, counts, today = _build(world, name, log=log)
    setup = BusySetup(
        database=name,
        busy=busy,
        contested=[consultant_id(i) for i in CONTESTED],
        reserved=[seeker_id(i) for i in range(world.spec.seekers - RESERVED + 1, world.spec.seekers + 1)],
        counts=counts,
        setup_s=round(time.perf_counter() - t0, 2),
        reused=False,
        today=today,
    )
    log(
        f"  made in {setup.setup_s} s: {counts['appointments']:,} appointments "
        f"({counts['active_appointments']:,} active), {counts['engagements']:,} engagements"
    )
    meta_path.write_text(
        json.dumps({"fingerprint": fingerprint, "database": name, "setup": asdict(setup)}, indent=2, default=str)
    )
    return setup


# --------------------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------------------
def _stats(samples: list[float]) -> dict[str, float]:
    arr = np.array(samples) * 1000
    return {
        "n": len(samples),
        "p50_ms": round(float(np.median(arr)), 2),
        "p95_ms": round(float(np.percentile(arr, 95)), 2),
        "mean_ms": round(float(arr.mean()), 2),
        "max_ms": round(float(arr.max()), 2),
    }


def run_slots(
    world: World, *, samples: int = 200, warmup: int = 20, apply: list[Path] | None = None, log=print
) -> dict[str, Any]:
    """Time 8-week open_slots of the busy consultants through LocalBackend; returns results.json keys."""
    setup = ensure_busy(world, log=log)
    database = setup.database
    if apply:
        database = copy_database(world, setup.database, f"{setup.database}_scratch", apply, log=log)
    backend = LocalBackend(world.db.conninfo("authenticator", database))
    load_before = os.getloadavg()
    try:
        with psycopg.connect(world.db.conninfo(OWNER, database)) as owner:
            today = owner.execute("select current_date").fetchone()[0]
        last = today + timedelta(days=WINDOW_DAYS)

        def call(c: BusyConsultant) -> list[dict[str, Any]]:
            return open_slots(backend, Claims.user(c.caller), c.id, today, last, c.caller)

        log(f"open_slots: {warmup} warm-up calls, then {samples} timed, over {len(setup.busy)} busy consultants")
        for n in range(warmup):
            call(setup.busy[n % len(setup.busy)])
        times: dict[str, list[float]] = {c.id: [] for c in setup.busy}
        counts: dict[str, int] = {}
        for n in range(samples):
            c = setup.busy[n % len(setup.busy)]
            t0 = time.perf_counter()
            got = call(c)
            times[c.id].append(time.perf_counter() - t0)
            counts[c.id] = len(got)
        # The same consultants without the caller's own appointments (p_client null), for comparison.
        plain = []
        for n in range(max(len(setup.busy), samples // 4)):
            c = setup.busy[n % len(setup.busy)]
            t0 = time.perf_counter()
            open_slots(backend, Claims.user(c.caller), c.id, today, last, None)
            plain.append(time.perf_counter() - t0)
    finally:
        backend.close()
    # Copied from the database measured above, once nobody is connected to it.
    calendar = _slots_with_calendars(world, setup, database, today, last, samples, counts, log=log)
    load_after = os.getloadavg()
    everything = [t for ts in times.values() for t in ts]
    overall = _stats(everything)
    slot_counts = [counts[c.id] for c in setup.busy]
    return {
        "slots_8w_p50_ms": overall["p50_ms"],
        "slots_8w_p95_ms": overall["p95_ms"],
        "slots_8w_calendar_p50_ms": calendar["p50_ms"],
        "slots_8w_calendar_p95_ms": calendar["p95_ms"],
        "slots_calendar": calendar,
        "slots_8w_slots": int(np.median(slot_counts)),
        "slots": {
            **overall,
            "database": database,
            "applied": [str(p) for p in apply or []],
            "window": f"{today.isoformat()}..{last.isoformat()} ({WINDOW_DAYS} days)",
            "warmup": warmup,
            "slots_returned": {"median": int(np.median(slot_counts)), "min": min(slot_counts), "max": max(slot_counts)},
            "without_client_p50_ms": _stats(plain)["p50_ms"],
            "per_consultant": [
                {
                    "consultant": c.number,
                    "id": c.id,
                    "timezone": c.timezone,
                    "slots": counts[c.id],
                    "active_appointments": c.active_appointments,
                    "inactive_appointments": c.inactive_appointments,
                    "caller_sessions_elsewhere": c.caller_elsewhere,
                    "overrides": c.overrides,
                    "time_off": c.time_off,
                    **{k: v for k, v in _stats(times[c.id]).items() if k in ("p50_ms", "p95_ms", "max_ms")},
                }
                for c in setup.busy
            ],
            "setup": {
                "database": setup.database,
                "reused": setup.reused,
                "setup_s": setup.setup_s,
                "counts": setup.counts,
                "busy_hours": "Mon-Fri 08-12, 13-18; Sat 09-13 (own zone)",
                "session": f"{SESSION} + {BUFFER} min buffer, max 40 a week, 24 h notice",
                "appointments_per_week": f"{PER_WEEK[0]}-{PER_WEEK[1]} active",
            },
            "targets": {k: {"op": op, "value": v} for k, (op, v) in TARGETS.items()},
            "loadavg_before": [round(x, 2) for x in load_before],
            "loadavg_after": [round(x, 2) for x in load_after],
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        },
    }


# Busy times from each busy consultant's own calendar (issue 27): a lunch hour and an evening every weekday, and a
# scattering of appointments of their own, for the whole year the sweep stores (about 730 intervals each).
_CALENDAR_BUSY_SQL = """
with cal as (
  insert into private.consultant_calendars (consultant_id, kind, label, sealed_secret, masked_secret)
  select c, 'ics_url', 'Bench calendar', 'sealed', 'https://…/basic.ics' from unnest(%(consultants)s::uuid[]) c
  returning id, consultant_id
)
insert into private.calendar_busy (calendar_id, consultant_id, busy)
select cal.id, cal.consultant_id, tstzrange(d + interval '12 hours', d + interval '13 hours')
from cal, generate_series(current_date::timestamptz, current_date + 364, interval '1 day') d
where extract(isodow from d) <= 5
union all
select cal.id, cal.consultant_id, tstzrange(d + interval '18 hours', d + interval '19 hours 30 minutes')
from cal, generate_series(current_date::timestamptz, current_date + 364, interval '1 day') d
where extract(isodow from d) <= 5
union all
select cal.id, cal.consultant_id, tstzrange(d + (h || ' hours')::interval, d + (h || ' hours 45 minutes')::interval)
from cal, generate_series(current_date::timestamptz, current_date + 364, interval '1 day') d,
     generate_series(8, 16, 2) h
where (hashtext(cal.consultant_id::text || d::text || h::text) & 7) = 0
"""


def _slots_with_calendars(
    world: World,
    setup: BusySetup,
    database: str,
    today: date,
    last: date,
    samples: int,
    counts_without: dict[str, int],
    log=print,
) -> dict[str, Any]:
    """8-week open_slots of the same consultants once their own calendars hold a year of busy times (a scratch copy
    of the database, so the other benches' worlds stay as they are)."""
    scratch = copy_database(world, database, f"{setup.database}_calendars", log=log)
    ids = [c.id for c in setup.busy]
    with psycopg.connect(world.db.conninfo(OWNER, scratch), autocommit=True) as owner:
        owner.execute(_CALENDAR_BUSY_SQL, {"consultants": ids})
        owner.execute("analyze private.calendar_busy")
        intervals = owner.execute("select count(*) from private.calendar_busy").fetchone()[0]
    backend = LocalBackend(world.db.conninfo("authenticator", scratch))
    try:
        times, counts = [], {}
        for n in range(len(setup.busy) + samples):
            c = setup.busy[n % len(setup.busy)]
            t0 = time.perf_counter()
            got = open_slots(backend, Claims.user(c.caller), c.id, today, last, c.caller)
            if n >= len(setup.busy):  # one warm-up call each
                times.append(time.perf_counter() - t0)
            counts[c.id] = len(got)
    finally:
        backend.close()
        with psycopg.connect(world.db.conninfo(OWNER, DATABASE), autocommit=True) as conn:
            conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(scratch)))
    log(f"open_slots with calendars: {intervals:,} busy intervals over {len(ids)} consultants")
    return {
        **_stats(times),
        "busy_intervals": intervals,
        "slots_without_calendar": {c: counts_without[c] for c in ids},
        "slots_with_calendar": counts,
    }


def verdict(key: str, value: float) -> str:
    op, target = TARGETS[key]
    return "pass" if (value <= target if op == "<=" else value >= target) else "MISS"


def print_table(r: dict[str, Any], full_size: bool = True) -> None:
    s = r["slots"]
    setup = s["setup"]
    note = "" if full_size else " (target is for 50,000)"
    print()
    made = "reused" if setup["reused"] else f"made in {setup['setup_s']} s"
    print(f"Open-slots benchmark - {s['window']}, database {s['database']} ({made})")
    print(
        f"  {len(s['per_consultant'])} busy consultants: {setup['busy_hours']}; {setup['session']}; "
        f"{setup['appointments_per_week']} a week"
    )
    c = setup["counts"]
    print(
        f"  appointments in the database {c['appointments']:,} ({c['active_appointments']:,} active), "
        f"engagements {c['engagements']:,}; load {s['loadavg_before'][0]} -> {s['loadavg_after'][0]}"
    )
    if s["applied"]:
        print(f"  with {', '.join(s['applied'])}")
    print(f"  {s['n']} timed calls after {s['warmup']} warm-up, as the consultant's client (p_client = caller)")
    print()
    print(f"  {'metric':<34}{'measured':>12}   {'target':>10}   result")
    print(f"  {'-' * 34}{'-' * 12}   {'-' * 10}   ------")
    op, target = TARGETS["slots_8w_p50_ms"]
    print(
        f"  {'slots 8 weeks p50 (ms)':<34}{r['slots_8w_p50_ms']:>12.2f}   {f'{op} {target:g}':>10}   "
        f"{verdict('slots_8w_p50_ms', r['slots_8w_p50_ms'])}{note}"
    )
    print(f"  {'slots 8 weeks p95 (ms)':<34}{r['slots_8w_p95_ms']:>12.2f}")
    cal = r["slots_calendar"]
    print(
        f"  {'with own calendars p50 / p95 (ms)':<34}{r['slots_8w_calendar_p50_ms']:>6.2f} / "
        f"{r['slots_8w_calendar_p95_ms']:.2f}   ({cal['busy_intervals']:,} busy intervals)"
    )
    print(f"  {'mean / max (ms)':<34}{s['mean_ms']:>6.2f} / {s['max_ms']:.1f}")
    print(f"  {'without p_client p50 (ms)':<34}{s['without_client_p50_ms']:>12.2f}")
    sr = s["slots_returned"]
    print(f"  {'slots returned median (min-max)':<34}{sr['median']:>6} ({sr['min']}-{sr['max']})")
    print()
    print(
        f"  {'consultant':<12}{'zone':<22}{'active':>7}{'other':>7}{'elsewh.':>8}{'slots':>7}{'p50 ms':>9}{'p95 ms':>9}"
    )
    for p in s["per_consultant"]:
        print(
            f"  {p['consultant']:<12}{p['timezone']:<22}{p['active_appointments']:>7}{p['inactive_appointments']:>7}"
            f"{p['caller_sessions_elsewhere']:>8}{p['slots']:>7}{p['p50_ms']:>9.2f}{p['p95_ms']:>9.2f}"
        )
    print()


def check_slots(checks: Checks, r: dict[str, Any]) -> None:
    for c in r["slots"]["per_consultant"]:
        checks.expect(c["slots"] > 0, f"busy consultant {c['consultant']} had open slots for their client")
    cal = r["slots_calendar"]
    checks.expect(cal["busy_intervals"] > 0, "the consultants' own calendars held busy times")
    checks.expect(
        all(cal["slots_with_calendar"][c] < cal["slots_without_calendar"][c] for c in cal["slots_with_calendar"]),
        "busy times from each consultant's own calendar removed open slots",
    )


def merge_results(path: Path, updates: dict[str, Any]) -> None:
    """Update keys of results.json, keeping what other benchmarks wrote there."""
    current: dict[str, Any] = {}
    if path.exists():
        try:
            current = json.loads(path.read_text())
        except json.JSONDecodeError:
            current = {}
    current.update(updates)
    path.write_text(json.dumps(current, indent=2, default=str))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark public.open_slots for busy consultants (8 weeks).")
    parser.add_argument("--quick", action="store_true", help=f"small world ({QUICK.consultants:,} consultants)")
    parser.add_argument("--consultants", type=int, help=f"world size (default {FULL.consultants:,})")
    parser.add_argument("--samples", type=int, help="timed calls (default 200, quick 40)")
    parser.add_argument("--warmup", type=int, help="warm-up calls (default 20, quick 10)")
    parser.add_argument("--out", type=Path, default=RESULTS_PATH, help="results file (default bench/results.json)")
    parser.add_argument(
        "--apply",
        type=Path,
        nargs="+",
        metavar="SQL",
        help="measure a scratch copy of the busy database with these SQL files applied",
    )
    args = parser.parse_args(argv)
    base = QUICK if args.quick else FULL
    spec = (
        base
        if not args.consultants
        else WorldSpec(consultants=args.consultants, seekers=max(50, args.consultants // 50))
    )
    if spec.seekers < RESERVED + 10:
        parser.error(f"the world needs at least {RESERVED + 10} seekers")
    world = ensure_world(spec)
    samples = args.samples or (40 if args.quick else 200)
    warmup = args.warmup or (10 if args.quick else 20)
    results = run_slots(world, samples=samples, warmup=warmup, apply=args.apply)
    print_table(results, full_size=spec.consultants >= FULL.consultants)
    merge_results(args.out, results)
    print(f"wrote slots_8w_* to {args.out}")
    checks = Checks("bench/slots.py")
    check_slots(checks, results)
    return checks.report()


if __name__ == "__main__":
    raise SystemExit(main())
