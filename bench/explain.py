"""EXPLAIN (ANALYZE, BUFFERS) of every statement one bench search runs, nested ones included.

    python bench/explain.py [--quick] [--query N | --slowest] [--min-ms 1] [--database portal]
    python bench/explain.py --records [--quick] [--query N]   # the cards' consultant_records instead

--records explains public.consultant_records for the cards of the query's page (at most 20 consultants),
as the seeker, on the busy copy of the world (bench/slots.py: consultants with appointment histories).
Exits 1 when the call returned nothing to explain (no plan at least --min-ms slow, or no cards).

Uses auto_explain (loaded in this session only, as the superuser) with nested statements and
NOTICE level, so the plans of the statements inside search_consultants, screen_candidates and
the functions they call come back to this client. The search runs as the seeker, in a
transaction that is rolled back, after --warm other searches in the same session (so the plans
shown are the cached ones a pooled connection uses). Query numbers are those of bench/run.py.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from bench.checks import Checks  # noqa: E402
from bench.generate import FULL, QUICK, WorldSpec, ensure_world  # noqa: E402
from bench.run import RESULTS_PATH, load_seekers, make_queries, scratch_copy  # noqa: E402
from bench.slots import copy_database, ensure_busy  # noqa: E402
from portal.db.local import SEARCH_PATH  # noqa: E402


def _call(conn: psycopg.Connection, query, args: str) -> Any:
    return _as_seeker(conn, query, f"select public.search_consultants({args})", query.filters.params())


def _as_seeker(conn: psycopg.Connection, query, statement: str, params: Any) -> Any:
    """`statement` as the query's seeker, in a transaction that is rolled back; its one value."""
    conn.execute("begin")
    try:
        conn.execute(
            "select set_config('role', %s, true), set_config('request.jwt.claims', %s, true),"
            " set_config('search_path', %s, true)",
            (query.claims.role, json.dumps(query.claims.as_jwt_payload()), SEARCH_PATH),
        )
        return conn.execute(statement, params).fetchone()[0]
    finally:
        conn.execute("rollback")


def explain(
    conninfo: str, query, *, min_ms: float, warm: list | None = None, records: bool = False
) -> list[tuple[float, str]]:
    """Plans of the statements in one search; `warm` searches run first in the same session, so that
    cached (possibly generic) plans are the ones explained, as in a long-lived pooled connection."""
    plans: list[tuple[float, str]] = []

    def on_notice(diag: psycopg.errors.Diagnostic) -> None:
        text = diag.message_primary or ""
        if text.startswith("duration:"):
            ms = float(text.split()[1])
            plans.append((ms, text))

    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.add_notice_handler(on_notice)
        for statement in (
            "load 'auto_explain'",
            "set auto_explain.log_min_duration = -1",
            "set auto_explain.log_analyze = on",
            "set auto_explain.log_buffers = on",
            "set auto_explain.log_nested_statements = on",
            "set auto_explain.log_level = notice",
            "set auto_explain.log_triggers = on",
        ):
            conn.execute(statement)
        names, types = conn.execute(
            """select p.proargnames[1:p.pronargs], array(select format_type(t, null) from unnest(p.proargtypes) t)
               from pg_proc p where p.pronamespace = 'public'::regnamespace and p.proname = 'search_consultants'"""
        ).fetchone()
        types = dict(zip(names, types, strict=True))
        args = ", ".join(f"{name} => %({name})s::{types[name]}" for name in query.filters.params())
        for other in warm or []:
            _call(conn, other, args)
        cards = [r["consultant_id"] for r in _call(conn, query, args)["results"]] if records else []
        plans.clear()
        conn.execute(f"set auto_explain.log_min_duration = {float(min_ms)}")
        if not records:
            _call(conn, query, args)
        elif cards:
            print(f"consultant_records for the {len(cards)} cards of the page")
            _as_seeker(conn, query, "select public.consultant_records(%s::uuid[])", (cards,))
    return plans


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--consultants", type=int, help="world size, as bench/run.py's (default 50,000)")
    parser.add_argument("--query", type=int, help="query number in bench/run.py's list")
    parser.add_argument("--slowest", action="store_true", help="the slowest query of the last results.json")
    parser.add_argument("--min-ms", type=float, help="show statements at least this slow (default 1, quick 0)")
    parser.add_argument(
        "--records", action="store_true", help="explain the cards' consultant_records on the busy copy instead"
    )
    parser.add_argument("--database", default="portal", help="e.g. a scratch copy of the bench database")
    parser.add_argument(
        "--apply",
        type=Path,
        nargs="+",
        metavar="SQL",
        help="explain on a fresh scratch copy with these SQL files applied",
    )
    parser.add_argument("--samples", type=int, default=240)
    parser.add_argument(
        "--warm",
        type=int,
        default=20,
        help="bench searches run first in the same session (cached plans, as in the pool)",
    )
    args = parser.parse_args(argv)

    spec = QUICK if args.quick else FULL
    if args.consultants:
        spec = WorldSpec(consultants=args.consultants, seekers=max(50, args.consultants // 50))
    world = ensure_world(spec)
    if args.records:
        busy = ensure_busy(world).database
        args.database = copy_database(world, busy, f"{busy}_scratch", args.apply) if args.apply else busy
    elif args.apply:
        args.database = scratch_copy(world, args.apply)
    min_ms = args.min_ms if args.min_ms is not None else (0.0 if args.quick else 1.0)
    number = args.query or 0
    if args.slowest:
        number = json.loads(RESULTS_PATH.read_text())["slowest"][0]["query"]
    with psycopg.connect(world.db.owner_conninfo) as conn:
        modalities = [r[0] for r in conn.execute("select code from public.modalities order by code")]
    queries = make_queries(load_seekers(world.db.owner_conninfo), modalities, args.samples)
    query = queries[number]
    print(f"query {number}: {query.describe()}  (seeker {query.seeker.id})")
    plans = explain(
        world.db.conninfo("postgres", database=args.database),
        query,
        min_ms=min_ms,
        warm=[q for i, q in enumerate(queries) if i != number][: args.warm],
        records=args.records,
    )
    for _ms, text in plans:
        print("-" * 100)
        # Plans only: the query text of a function body and its (long) parameter arrays are left out.
        lines = text.splitlines()
        start = next((i for i, line in enumerate(lines) if "(cost=" in line), 0)
        print(lines[0])
        print((lines[1] if len(lines) > 1 else "")[:160])
        for line in lines[start:]:
            print(line if len(line) <= 220 else line[:220] + " ...")
    print("-" * 100)
    print(f"{len(plans)} statements of at least {min_ms} ms")
    checks = Checks("bench/explain.py")
    checks.expect(bool(plans), f"the {'records' if args.records else 'search'} call was explained (a plan came back)")
    return checks.report()


if __name__ == "__main__":
    raise SystemExit(main())
