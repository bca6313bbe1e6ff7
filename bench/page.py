"""The Find page's database calls for one search, timed together (issue 25, item 1).

    python bench/run.py            # measures the page too (page_p50_ms, page_p95_ms)

What a person waits for when they press Search on Find a consultant (views/find.py): the page
calls portal.search.search (public.search_consultants, then public.consultant_records for the
cards shown) and, when nothing is found and no single filter's removal finds anyone,
portal.search.broaden (one more search_consultants). `find_page` makes exactly those calls through
a backend that times each one. Measured on the busy copy of the world (bench/slots.py), where every
consultant from bench consultant 9 on has a past of ended engagements and sessions, so each card's
record reads real appointments.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import psycopg

from bench.checks import Checks
from portal.db.bootstrap import OWNER
from portal.db.claims import Claims
from portal.db.local import LocalBackend
from portal.search import SearchFilters, SearchPage, broaden, search, single_relaxations

FULL_CARDS = 10  # a page with at least this many cards shows at least one professionalism record


@dataclass
class TimedBackend:
    """Delegates to a backend and keeps (function, seconds) of every rpc call."""

    backend: Any
    calls: list[tuple[str, float]] = field(default_factory=list)

    def rpc(self, fn: str, params: dict[str, Any] | None = None, *, as_user: Claims | None) -> Any:
        t0 = time.perf_counter()
        try:
            return self.backend.rpc(fn, params, as_user=as_user)
        finally:
            self.calls.append((fn, time.perf_counter() - t0))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.backend, name)


def find_page(backend: Any, claims: Claims, filters: SearchFilters) -> SearchPage:
    """Every database call views/find.py makes for one search, in its order."""
    page = search(backend, claims, filters)
    if page.total == 0 and not single_relaxations(page):
        broaden(backend, claims, filters)
    return page


def latency_stats(ms: list[float]) -> dict[str, float]:
    """Median, p95, mean and max of timings in milliseconds (shared with bench/load.py)."""
    if not ms:
        return {"n": 0}
    arr = np.array(ms)
    return {
        "n": len(ms),
        "p50_ms": round(float(np.median(arr)), 2),
        "p95_ms": round(float(np.percentile(arr, 95)), 2),
        "mean_ms": round(float(arr.mean()), 2),
        "max_ms": round(float(arr.max()), 2),
    }


def run_page(world, database: str, queries: list, warmup: list, log=print) -> dict[str, Any]:
    """Time `find_page` for each query on `database` (the busy copy); returns results.json keys."""
    with psycopg.connect(world.db.conninfo(OWNER, database)) as conn:
        appointments = conn.execute("select count(*) from public.appointments").fetchone()[0]
    backend = TimedBackend(LocalBackend(world.db.conninfo("authenticator", database)))
    load_before = os.getloadavg()
    totals, by_call, errors = [], {}, []
    cards = records = full_pages = full_pages_with_records = 0
    try:
        log(f"Find page: {len(warmup)} warm-up searches, then {len(queries)} timed (search + cards' records)")
        for q in warmup:
            try:
                find_page(backend, q.claims, q.filters)
            except Exception as exc:  # noqa: BLE001 - counted with the timed ones' errors below
                errors.append(f"warm-up: {type(exc).__name__}: {str(exc)[:160]}")
        for q in queries:
            backend.calls.clear()
            try:
                page = find_page(backend, q.claims, q.filters)
            except Exception as exc:  # noqa: BLE001 - a page that fails is counted, and its wait timed
                errors.append(f"{type(exc).__name__}: {str(exc)[:160]}")
                page = None
            # A failed page is timed too: the person waited that long for the error.
            totals.append(sum(s for _, s in backend.calls) * 1000)
            for fn, s in backend.calls:
                by_call.setdefault(fn, []).append(s * 1000)
            if page is None:
                continue
            shown = sum(r.get("record") is not None for r in page.results)
            cards += len(page.results)
            records += shown
            if len(page.results) >= FULL_CARDS:
                full_pages += 1
                full_pages_with_records += shown > 0
    finally:
        backend.backend.close()
    stats = latency_stats(totals)
    return {
        "page_p50_ms": stats["p50_ms"],
        "page_p95_ms": stats["p95_ms"],
        "page": {
            **stats,
            "database": database,
            "appointments_in_database": appointments,
            "by_call": {fn: latency_stats(ms) for fn, ms in sorted(by_call.items())},
            "errors": len(errors),
            "errors_by_kind": {k: errors.count(k) for k in sorted(set(errors))},
            "cards": cards,
            "cards_with_record": records,
            "pages_with_10_or_more_cards": full_pages,
            "of_them_with_a_record": full_pages_with_records,
            "loadavg_before": [round(x, 2) for x in load_before],
            "loadavg_after": [round(x, 2) for x in os.getloadavg()],
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        },
    }


def check_page(checks: Checks, r: dict[str, Any]) -> None:
    p = r["page"]
    checks.expect(p["n"] > 0, "the Find page was timed at least once")
    checks.expect(p["errors"] == 0, f"no Find page failed ({p['errors']} did: {list(p['errors_by_kind'])[:2]})")
    checks.expect(p["cards"] > 0, "the Find page's searches showed cards")
    checks.expect(p["cards_with_record"] > 0, "consultant_records returned records for the cards (histories exist)")
    checks.expect(
        p["of_them_with_a_record"] == p["pages_with_10_or_more_cards"],
        f"every page of {FULL_CARDS} or more cards showed at least one record "
        f"({p['of_them_with_a_record']} of {p['pages_with_10_or_more_cards']})",
    )


def print_page_table(r: dict[str, Any]) -> None:
    p = r["page"]
    print()
    print(
        f"Find page - every database call of one search, on {p['database']} "
        f"({p['appointments_in_database']:,} appointments); load {p['loadavg_before'][0]} -> {p['loadavg_after'][0]}"
    )
    print(f"  {'page p50 / p95 / max (ms)':<40}{p['p50_ms']:>8.2f} / {p['p95_ms']:.2f} / {p['max_ms']:.1f}")
    for fn, s in p["by_call"].items():
        print(f"  {fn + ' p50 / p95 (ms)':<40}{s['p50_ms']:>8.2f} / {s['p95_ms']:.2f}   ({s['n']} calls)")
    print(f"  {'cards shown / with a record':<40}{p['cards']:>8} / {p['cards_with_record']}")
    if p["errors"]:
        print(f"  {'pages that failed':<40}{p['errors']:>8}")
        for kind, n in p["errors_by_kind"].items():
            print(f"    {n:>4} x {kind}")
    print()
