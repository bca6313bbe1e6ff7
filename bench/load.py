"""Load test: concurrent simulated users through one LocalBackend, racing for the same slots.

    python bench/load.py            # the curve: 1, 2, 4, 8 and 20 users, 60 s each, on the 50,000-consultant world
    python bench/load.py --quick    # 20 users for 10 s on the 2,000-consultant world
    python bench/load.py --users 20 --duration 120 --pool 8      # other settings (--users 1,4,20: a curve)
    python bench/load.py --apply fix.sql                          # with a proposed SQL fix applied
    python bench/load.py --users 20 --duration 30 --profile       # and where the time goes (bench/time_split.py)

Loopback only (the embedded Postgres's Unix socket), bounded in users (at most 60), time (at most
600 s) and by a join timeout. One LocalBackend for the process, its pool shared by every user
thread, like the app (max_size --pool, 20 by default; the app's default is 8). Every run starts
from a fresh copy (`portal_load`) of the busy database made by bench/slots.py, so bookings do not
accumulate between runs; it is dropped at the end (--keep to keep it).

Users are the reserved seekers of bench/slots.py, each an engaged client of the 3 contested
consultants. Each user thread, with no think time by default:

- non-bookers: 85 % Find a consultant (bench/page.py's find_page: every call the page makes,
  search_consultants, then consultant_records for the cards, with SearchFilters made as
  bench/run.py makes them, for the user's own home), 15 % open slots of a busy consultant for the
  next 4 weeks;
- bookers (--bookers, 8 by default): rounds. In round r every booker reads the open slots of
  contested consultant r mod 3 for the next 2 weeks (as the consultant's client); all bookers
  wait on a barrier, whose action picks the earliest slot open to every one of them (a winner of
  an earlier round is busy at the time they won, so each one's earliest slot can differ), then
  all call portal.appointments.book for it at the same moment: one wins, the others must be
  refused with a Refusal naming 'slot_taken'. Between rounds each does 4 of the non-booker actions.

Anything raised other than a Refusal naming 'slot_taken' from book counts as an error.
At the end, SQL checks that no two active appointments of one consultant overlap (with the buffer)
and none of one client, and that the active appointments made equal the bookings won.
Prints a table and merges load_* into bench/results.json (load_curve: one entry per user count;
the other load_* keys are the largest count's). Then checks that it tested something, and exits 1
otherwise: no operation errored, every round's race was won by exactly one booker (and every booker
found a slot to race for), bookings were won, no double booking, the appointments made equal the
bookings won, and the searches showed cards.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import psycopg  # noqa: E402

from bench.checks import Checks  # noqa: E402
from bench.generate import FULL, QUICK, World, WorldSpec, ensure_world  # noqa: E402
from bench.page import find_page, latency_stats  # noqa: E402
from bench.run import load_seekers, make_queries  # noqa: E402
from bench.slots import RESERVED, RESULTS_PATH, BusySetup, copy_database, ensure_busy, merge_results  # noqa: E402
from bench.time_split import ThreadProfiles, print_split  # noqa: E402
from portal.appointments import book  # noqa: E402
from portal.availability import open_slots  # noqa: E402
from portal.db.bootstrap import OWNER  # noqa: E402
from portal.db.claims import Claims  # noqa: E402
from portal.db.local import LocalBackend  # noqa: E402
from portal.refusal import Refusal  # noqa: E402

LOAD_DATABASE = "portal_load"
MAX_USERS = RESERVED
MAX_DURATION_S = 600
BOOK_WINDOW_DAYS = 14
READ_WINDOW_DAYS = 28
ACTIONS_PER_ROUND = 4
# At most this many booking races per run. The portal caps what one member can make another receive at 20 a day
# (issue 23, item 4: a booking notifies the consultant), and a run's bookers are the same clients of the same 3
# contested consultants; racing back to back, one booker would win past the cap and be refused. 50 rounds over 3
# consultants keep any (booker, consultant) pair at 17 wins at most; between rounds bookers browse like everyone.
ROUNDS_PER_RUN = 50
TARGETS = {"load_errors": ("==", 0), "load_double_bookings": ("==", 0)}

DOUBLE_BOOKINGS_SQL = """
select
  (select count(*) from public.appointments a join public.appointments b
     on b.consultant_id = a.consultant_id and a.id < b.id
    and tstzrange(a.starts_at, a.blocked_until) && tstzrange(b.starts_at, b.blocked_until)
   where a.status in ('requested', 'confirmed') and b.status in ('requested', 'confirmed')) as consultant_overlaps,
  (select count(*) from public.appointments a join public.appointments b
     on b.client_id = a.client_id and a.id < b.id
    and tstzrange(a.starts_at, a.ends_at) && tstzrange(b.starts_at, b.ends_at)
   where a.status in ('requested', 'confirmed') and b.status in ('requested', 'confirmed')) as client_overlaps,
  (select count(*) from public.appointments
   where consultant_id = any(%(contested)s::uuid[]) and status in ('requested', 'confirmed')) as contested_active
"""


@dataclass
class Sample:
    op: str
    started: float  # seconds since the start
    ms: float
    outcome: str  # ok | won | refused | error
    detail: str = ""


@dataclass
class Shared:
    backend: LocalBackend
    today: Any
    deadline: float
    t0: float
    contested: list[str]
    busy: list[str]
    barrier: threading.Barrier | None
    think_s: float
    samples: list[Sample] = field(default_factory=list)
    rounds: dict[int, list[tuple[str, str | None, str]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    barrier_broken_early: bool = False
    offers: dict[str, set] = field(default_factory=dict)  # this round's open slots, per booker
    round_target: Any = None  # the slot every booker races for in this round

    def pick_common_slot(self) -> None:
        """The barrier's action: the earliest slot open to every booker (None when there is none)."""
        common = set.intersection(*self.offers.values()) if self.offers else set()
        self.round_target = min(common) if common else None
        self.offers = {}

    searches_with_cards: int = 0


def _describe(exc: BaseException) -> str:
    """The exception, its code, and the Postgres error underneath when there is one."""
    cause = exc.__cause__
    code = getattr(exc, "code", None) or getattr(cause, "code", None) or getattr(cause, "sqlstate", None)
    under = f" <- {type(cause).__name__}: {str(cause).splitlines()[0][:100]}" if cause is not None else ""
    return f"{type(exc).__name__}[{code}]: {str(exc)[:120]}{under}"


class User:
    def __init__(self, shared: Shared, user_id: str, queries: list, seed: str) -> None:
        self.s = shared
        self.id = user_id
        self.claims = Claims.user(user_id)
        self.queries = queries
        self.rng = random.Random(seed)
        self.n = 0

    def _record(self, op: str, t: float, outcome: str, detail: str = "") -> None:
        self.s.samples.append(Sample(op, t - self.s.t0, (time.perf_counter() - t) * 1000, outcome, detail))

    def timed(self, op: str, fn) -> Any:
        t = time.perf_counter()
        try:
            result = fn()
        except Exception as exc:  # noqa: BLE001 - everything unexpected is counted, not raised
            self._record(op, t, "error", _describe(exc))
            return None
        self._record(op, t, "ok")
        return result

    def search(self) -> None:
        q = self.queries[self.n % len(self.queries)]
        self.n += 1
        page = self.timed("search", lambda: find_page(self.s.backend, self.claims, q.filters))
        if page is not None and page.results:
            with self.s.lock:
                self.s.searches_with_cards += 1

    def read_slots(self) -> None:
        consultant = self.rng.choice(self.s.busy)
        self.timed(
            "open_slots",
            lambda: open_slots(
                self.s.backend,
                self.claims,
                consultant,
                self.s.today,
                self.s.today + timedelta(days=READ_WINDOW_DAYS),
                self.id,
            ),
        )

    def action(self) -> None:
        if self.rng.random() < 0.85:
            self.search()
        else:
            self.read_slots()
        if self.s.think_s:
            time.sleep(self.s.think_s * self.rng.uniform(0.5, 1.5))

    def browse(self) -> None:
        while time.perf_counter() < self.s.deadline:
            self.action()

    def book_rounds(self) -> None:
        barrier = self.s.barrier
        assert barrier is not None
        r = 0
        started = time.perf_counter()
        spacing = max(self.s.deadline - started, 0) / ROUNDS_PER_RUN
        while True:
            while time.perf_counter() < min(started + r * spacing, self.s.deadline):
                self.action()  # browse until this round's turn (the races are paced, see ROUNDS_PER_RUN)
            if time.perf_counter() >= self.s.deadline:
                barrier.abort()
                return
            consultant = self.s.contested[r % len(self.s.contested)]
            slots = self.timed(
                "open_slots_to_book",
                lambda c=consultant: open_slots(
                    self.s.backend,
                    self.claims,
                    c,
                    self.s.today,
                    self.s.today + timedelta(days=BOOK_WINDOW_DAYS),
                    self.id,
                ),
            )
            with self.s.lock:
                self.s.offers[self.id] = {slot["starts_at"] for slot in slots or []}
            try:
                barrier.wait(timeout=60)
            except threading.BrokenBarrierError:
                if time.perf_counter() < self.s.deadline - 1:
                    self.s.barrier_broken_early = True
                return
            target = self.s.round_target
            outcome = "no_slot"
            if target is not None:
                t = time.perf_counter()
                try:
                    book(self.s.backend, self.claims, consultant, target)
                    outcome = "won"
                    self._record("book", t, "won")
                except Refusal as exc:
                    if exc.field == "slot_taken":
                        outcome = "refused"
                        self._record("book", t, "refused")
                    else:
                        outcome = "error"
                        self._record("book", t, "error", _describe(exc))
                except Exception as exc:  # noqa: BLE001
                    outcome = "error"
                    self._record("book", t, "error", _describe(exc))
            with self.s.lock:
                self.s.rounds.setdefault(r, []).append((consultant, target, outcome))
            r += 1
            for _ in range(ACTIONS_PER_ROUND):
                if time.perf_counter() >= self.s.deadline:
                    break
                self.action()


def run_load(
    world: World,
    setup: BusySetup,
    *,
    users: int,
    bookers: int,
    duration: float,
    pool: int,
    think_ms: float,
    apply: list[Path] | None,
    keep: bool,
    profile: bool = False,
    log=print,
) -> dict[str, Any]:
    database = copy_database(world, setup.database, LOAD_DATABASE, apply, log=log)
    owner_conninfo = world.db.conninfo(OWNER, database)
    user_ids = setup.reserved[RESERVED - users :]
    with psycopg.connect(owner_conninfo) as conn:
        today = conn.execute("select current_date").fetchone()[0]
        modalities = [r[0] for r in conn.execute("select code from public.modalities order by code")]
        deadlock_timeout = conn.execute("show deadlock_timeout").fetchone()[0]
        deadlocks_before = conn.execute(
            "select deadlocks from pg_stat_database where datname = current_database()"
        ).fetchone()[0]
        max_connections = conn.execute("show max_connections").fetchone()[0]
    seekers = {s.id: s for s in load_seekers(owner_conninfo)}
    backend = LocalBackend(world.db.conninfo("authenticator", database), max_size=pool)
    original_pool = backend._pool
    shared = Shared(
        backend=backend,
        today=today,
        deadline=0.0,
        t0=0.0,
        contested=setup.contested,
        busy=[c.id for c in setup.busy],
        barrier=None,
        think_s=think_ms / 1000,
    )
    shared.barrier = threading.Barrier(bookers, action=shared.pick_common_slot) if bookers else None
    people = [
        User(shared, uid, make_queries([seekers[uid]], modalities, 60, seed=1000 + k), f"load:{k}")
        for k, uid in enumerate(user_ids)
    ]
    log(f"warming up ({len(people)} users, one search and one open_slots each)")
    warmup_errors = []
    for p in people:
        try:
            find_page(backend, p.claims, p.queries[-1].filters)
            open_slots(backend, p.claims, shared.busy[0], today, today + timedelta(days=READ_WINDOW_DAYS), p.id)
        except Exception as exc:  # noqa: BLE001 - counted with the run's errors
            warmup_errors.append(_describe(exc))
    stats_before = backend._pool.get_stats()
    load_before = os.getloadavg()
    log(f"running {users} users ({bookers} booking) for {duration:g} s, pool max {pool}")
    threads = []
    profiles = ThreadProfiles()
    shared.t0 = time.perf_counter()
    shared.deadline = shared.t0 + duration
    for k, p in enumerate(people):
        target = p.book_rounds if k < bookers else p.browse
        if profile:
            target = profiles.wrap(target)
        threads.append(threading.Thread(target=target, name=f"user-{k}", daemon=True))
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=max(0.0, shared.deadline + 90 - time.perf_counter()))
    elapsed = time.perf_counter() - shared.t0
    hung = sum(t.is_alive() for t in threads)
    load_after = os.getloadavg()
    pool_stats = backend._pool.get_stats()
    pool_replaced = backend._pool is not original_pool
    backend.close()

    with psycopg.connect(owner_conninfo) as conn:
        check = conn.execute(DOUBLE_BOOKINGS_SQL, {"contested": setup.contested}).fetchone()
        conn.execute("select pg_stat_force_next_flush()")
        deadlocks = (
            conn.execute("select deadlocks from pg_stat_database where datname = current_database()").fetchone()[0]
            - deadlocks_before
        )
        notifications = conn.execute(
            "select count(*) from public.notifications where kind = 'booked'"
            " and created_at > now() - make_interval(secs => %s)",
            (elapsed + 60,),
        ).fetchone()[0]
    if not keep:
        with psycopg.connect(world.db.superuser_uri, autocommit=True) as conn:
            conn.execute(f"drop database if exists {LOAD_DATABASE} with (force)")

    samples = list(shared.samples)
    errors = [s for s in samples if s.outcome == "error"]
    books = [s for s in samples if s.op == "book"]
    won = sum(s.outcome == "won" for s in books)
    refused = sum(s.outcome == "refused" for s in books)
    consultant_overlaps, client_overlaps, contested_active = check
    # Contention per round: how many bookers aimed at the same (consultant, slot), and how many won it.
    contested_slots = 0
    max_winners = 0
    rounds_not_won_once = sum(
        [o for _, _, o in entries].count("won") != 1 or any(o == "no_slot" for _, _, o in entries)
        for entries in shared.rounds.values()
    )
    for entries in shared.rounds.values():
        by_slot: dict[tuple[str, str | None], list[str]] = {}
        for consultant, target, outcome in entries:
            by_slot.setdefault((consultant, target), []).append(outcome)
        for (_, target), outcomes in by_slot.items():
            if target is not None and len(outcomes) > 1:
                contested_slots += 1
                max_winners = max(max_winners, outcomes.count("won"))
    error_kinds = [f"{s.op}: {s.detail}" for s in errors] + [f"warm-up: {e}" for e in warmup_errors]
    by_op = {
        op: latency_stats([s.ms for s in samples if s.op == op])
        for op in ("search", "open_slots", "open_slots_to_book", "book")
    }
    by_op["book_won"] = latency_stats([s.ms for s in books if s.outcome == "won"])
    by_op["book_refused"] = latency_stats([s.ms for s in books if s.outcome == "refused"])
    by_op["book_error"] = latency_stats([s.ms for s in books if s.outcome == "error"])
    all_ms = [s.ms for s in samples]
    per_second = Counter(int(s.started + s.ms / 1000) for s in samples)
    return {
        "load_users": users,
        "load_search_p50_ms": by_op["search"].get("p50_ms"),
        "load_search_p95_ms": by_op["search"].get("p95_ms"),
        "load_bookings_won": won,
        "load_rps": round(len(samples) / elapsed, 1),
        "load_p95_ms": round(float(np.percentile(all_ms, 95)), 1) if all_ms else None,
        "load_errors": len(errors) + len(warmup_errors),
        "load_refusals": refused,
        "load_double_bookings": int(consultant_overlaps + client_overlaps),
        "load_pool_max": pool,
        "load": {
            "world": world.spec.name,
            "database": f"{database} (fresh copy of {setup.database})",
            "applied": [str(p) for p in apply or []],
            "users": users,
            "bookers": bookers,
            "duration_s": duration,
            "elapsed_s": round(elapsed, 2),
            "think_ms": think_ms,
            "pool": {
                "min_size": 1,
                "max_size": pool,
                "timeout_s": 5,
                "replaced_during_run": pool_replaced,
                "stats_before": stats_before,
                "stats_after": pool_stats,
            },
            "postgres": {
                "deadlock_timeout": deadlock_timeout,
                "max_connections": max_connections,
                "deadlocks_detected": deadlocks,
            },
            "requests": len(samples),
            "p50_ms": round(float(np.median(all_ms)), 1) if all_ms else None,
            "max_ms": round(max(all_ms), 1) if all_ms else None,
            "by_op": by_op,
            "rps_by_second": [per_second.get(k, 0) for k in range(int(elapsed) + 1)],
            "bookings": {
                "attempted": len(books),
                "won": won,
                "refused_slot_taken": refused,
                "errors": sum(s.outcome == "error" for s in books),
                "rounds": len(shared.rounds),
                "slots_raced_by_2_or_more": contested_slots,
                "max_winners_of_one_raced_slot": max_winners,
                "rounds_not_won_by_exactly_one": rounds_not_won_once,
                "booked_notifications": notifications,
            },
            "double_bookings": {
                "consultant_overlaps": consultant_overlaps,
                "client_overlaps": client_overlaps,
                "active_appointments_of_contested": contested_active,
                "active_equals_won": contested_active == won,
            },
            "errors_by_kind": dict(Counter(error_kinds).most_common(10)),
            "searches_with_cards": shared.searches_with_cards,
            "threads_still_running": hung,
            "profiled": profile,
            "time_split": profiles.split() if not hung else {},
            "barrier_broken_early": shared.barrier_broken_early,
            "loadavg_before": [round(x, 2) for x in load_before],
            "loadavg_after": [round(x, 2) for x in load_after],
            "cpus": os.cpu_count(),
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        },
    }


def _verdict(key: str, value: float) -> str:
    op, target = TARGETS[key]
    return "pass" if value == target else "MISS"


def print_table(r: dict[str, Any]) -> None:
    d = r["load"]
    b = d["bookings"]
    print()
    print(f"Load test - world {d['world']}, {d['database']}")
    print(
        f"  {d['users']} users ({d['bookers']} booking in rounds) for {d['duration_s']:g} s (ran {d['elapsed_s']} s),"
        f" think {d['think_ms']:g} ms; one LocalBackend, pool max {d['pool']['max_size']} (app default 8)"
    )
    print(
        f"  {d['cpus']} CPUs, load {d['loadavg_before'][0]} -> {d['loadavg_after'][0]}; "
        f"deadlock_timeout {d['postgres']['deadlock_timeout']}"
    )
    if d["applied"]:
        print(f"  with {', '.join(d['applied'])}")
    print()
    print(f"  {'metric':<34}{'measured':>12}   {'target':>10}   result")
    print(f"  {'-' * 34}{'-' * 12}   {'-' * 10}   ------")
    print(f"  {'load_users':<34}{r['load_users']:>12}")
    print(f"  {'load_rps':<34}{r['load_rps']:>12.1f}")
    print(f"  {'load_p95_ms':<34}{r['load_p95_ms']:>12.1f}")
    if r["load_search_p95_ms"] is not None:
        print(f"  {'load_search_p50_ms / p95_ms':<34}{r['load_search_p50_ms']:>12.1f} / {r['load_search_p95_ms']:.1f}")
    print(f"  {'load_bookings_won':<34}{r['load_bookings_won']:>12}")
    print(f"  {'load_errors':<34}{r['load_errors']:>12}   {'= 0':>10}   {_verdict('load_errors', r['load_errors'])}")
    print(
        f"  {'double bookings':<34}{r['load_double_bookings']:>12}   {'= 0':>10}   "
        f"{_verdict('load_double_bookings', r['load_double_bookings'])}"
    )
    print(f"  {'refusals (slot_taken)':<34}{r['load_refusals']:>12}")
    print(f"  {'deadlocks detected by Postgres':<34}{d['postgres']['deadlocks_detected']:>12}")
    print(f"  {'bookings won / attempted':<34}{b['won']:>6} / {b['attempted']}")
    print(f"  {'rounds; slots raced by >= 2':<34}{b['rounds']:>6} ; {b['slots_raced_by_2_or_more']}")
    print(f"  {'most winners of one raced slot':<34}{b['max_winners_of_one_raced_slot']:>12}")
    dbk = d["double_bookings"]
    print(
        f"  {'active appts made = bookings won':<34}{str(dbk['active_equals_won']):>12}"
        f"   ({dbk['active_appointments_of_contested']} vs {b['won']})"
    )
    print(f"  {'requests; p50 / max (ms)':<34}{d['requests']:>12}   {d['p50_ms']} / {d['max_ms']}")
    ps = d["pool"]["stats_after"]
    print(
        f"  {'pool: connections / max':<34}{ps.get('pool_size', '?'):>6} / {d['pool']['max_size']}"
        f"   queued {ps.get('requests_queued', 0)}, waited {ps.get('requests_wait_ms', 0)} ms in all,"
        f" errors {ps.get('requests_errors', 0)}, replaced {d['pool']['replaced_during_run']}"
    )
    print_split(d["time_split"])
    print()
    print(f"  {'operation':<22}{'n':>7}{'p50 ms':>10}{'p95 ms':>10}{'max ms':>10}")
    for op, s in d["by_op"].items():
        if s.get("n"):
            print(f"  {op:<22}{s['n']:>7}{s['p50_ms']:>10.1f}{s['p95_ms']:>10.1f}{s['max_ms']:>10.1f}")
    if d["errors_by_kind"]:
        print()
        print("  errors:")
        for kind, n in d["errors_by_kind"].items():
            print(f"    {n:>5} x {kind}")
    if d["threads_still_running"] or d["barrier_broken_early"]:
        print(
            f"  WARNING: {d['threads_still_running']} threads still running, "
            f"barrier broken early: {d['barrier_broken_early']}"
        )
    print()


def check_load(checks: Checks, r: dict[str, Any]) -> None:
    d = r["load"]
    b = d["bookings"]
    n = f"{d['users']} users"
    checks.expect(r["load_errors"] == 0, f"{n}: no operation errored ({r['load_errors']} did)")
    checks.expect(r["load_double_bookings"] == 0, f"{n}: no double booking ({r['load_double_bookings']})")
    if d["bookers"]:
        checks.expect(b["rounds"] > 0, f"{n}: booking rounds were run")
        checks.expect(r["load_bookings_won"] > 0, f"{n}: bookings were won")
        checks.expect(
            b["rounds_not_won_by_exactly_one"] == 0,
            f"{n}: every round's race was won by exactly one booker ({b['rounds_not_won_by_exactly_one']} of"
            f" {b['rounds']} rounds were not)",
        )
        checks.expect(d["double_bookings"]["active_equals_won"], f"{n}: the appointments made equal the bookings won")
    checks.expect(not d["barrier_broken_early"] and not d["threads_still_running"], f"{n}: every user finished")
    if d["by_op"]["search"].get("n"):
        checks.expect(d["searches_with_cards"] > 0, f"{n}: the searches showed cards")
    if d["profiled"]:
        # A psycopg or pool upgrade that renamed what time_split matches would leave it all in "python".
        seen = d["time_split"].get("seconds", {})
        checks.expect(seen.get("postgres", 0) > 0, f"{n}: the profile saw the waits on Postgres ({seen})")


def curve_entry(r: dict[str, Any]) -> dict[str, Any]:
    d = r["load"]
    return {
        "users": r["load_users"],
        "bookers": d["bookers"],
        "rps": r["load_rps"],
        "search_p50_ms": r["load_search_p50_ms"],
        "search_p95_ms": r["load_search_p95_ms"],
        "bookings_won": r["load_bookings_won"],
        "rounds": d["bookings"]["rounds"],
        "errors": r["load_errors"],
        "double_bookings": r["load_double_bookings"],
        "loadavg_before": d["loadavg_before"],
    }


def print_curve(curve: list[dict[str, Any]]) -> None:
    print("Load curve (the Find page's whole search path: search_consultants + consultant_records)")
    print(f"  {'users':>6}{'bookers':>9}{'req/s':>8}{'search p50':>12}{'search p95':>12}{'won':>6}{'errors':>8}")
    for e in curve:
        p50 = "-" if e["search_p50_ms"] is None else f"{e['search_p50_ms']:.1f}"
        p95 = "-" if e["search_p95_ms"] is None else f"{e['search_p95_ms']:.1f}"
        won, errors = e["bookings_won"], e["errors"]
        print(f"  {e['users']:>6}{e['bookers']:>9}{e['rps']:>8.1f}{p50:>12}{p95:>12}{won:>6}{errors:>8}")
    print()


def _user_counts(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Load test: concurrent searches, open slots and racing bookings.")
    parser.add_argument(
        "--quick", action="store_true", help=f"10 s on the small world ({QUICK.consultants:,} consultants)"
    )
    parser.add_argument("--consultants", type=int, help=f"world size (default {FULL.consultants:,})")
    parser.add_argument(
        "--users",
        type=_user_counts,
        help=f"concurrent users, or a curve of counts such as 1,2,4,8,20 (default that curve; quick 20; at most"
        f" {MAX_USERS})",
    )
    parser.add_argument(
        "--bookers", type=int, default=8, help="users racing for the same slots (default 8; fewer when fewer users)"
    )
    parser.add_argument("--duration", type=float, help="seconds (default 60, quick 10)")
    parser.add_argument("--pool", type=int, default=20, help="LocalBackend pool max_size (default 20; the app's is 8)")
    parser.add_argument("--think-ms", type=float, default=0, help="mean pause between a user's actions (default 0)")
    parser.add_argument(
        "--apply",
        type=Path,
        nargs="+",
        metavar="SQL",
        help="run on a copy with these SQL files applied (a proposed fix)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="run each user under cProfile and print where the time goes (postgres, pool, json, python)",
    )
    parser.add_argument("--keep", action="store_true", help=f"keep the {LOAD_DATABASE} database afterwards")
    parser.add_argument("--out", type=Path, default=RESULTS_PATH, help="results file (default bench/results.json)")
    args = parser.parse_args(argv)
    duration = args.duration if args.duration is not None else (10 if args.quick else 60)
    counts = args.users or ([20] if args.quick else [1, 2, 4, 8, 20])
    if not counts or not all(1 <= n <= MAX_USERS for n in counts):
        parser.error(f"--users must be 1..{MAX_USERS}")
    if args.bookers < 0:
        parser.error("--bookers must be 0 or more")
    if not 0 < duration <= MAX_DURATION_S:
        parser.error(f"--duration must be at most {MAX_DURATION_S} s")
    base = QUICK if args.quick else FULL
    spec = (
        base
        if not args.consultants
        else WorldSpec(consultants=args.consultants, seekers=max(50, args.consultants // 50))
    )
    world = ensure_world(spec)
    setup = ensure_busy(world)
    checks = Checks("bench/load.py")
    curve = []
    for users in sorted(counts):
        results = run_load(
            world,
            setup,
            users=users,
            bookers=min(args.bookers, users),
            duration=duration,
            pool=args.pool,
            think_ms=args.think_ms,
            apply=args.apply,
            keep=args.keep,
            profile=args.profile,
        )
        results["load"]["mode"] = "quick" if args.quick else "full" if spec == FULL else "custom"
        print_table(results)
        check_load(checks, results)
        curve.append(curve_entry(results))
    print_curve(curve)
    results["load_curve"] = curve
    results["load"]["checks"] = checks.as_dict()
    merge_results(args.out, results)
    print(f"wrote load_* to {args.out}")
    return checks.report()


if __name__ == "__main__":
    raise SystemExit(main())
