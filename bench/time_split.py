"""Where a user thread's time goes: cProfile per thread, merged and split into what a person waits on.

bench/load.py --profile runs each user thread under its own cProfile.Profile (a profile records only the thread
that enabled it) and splits the threads' summed wall time into:

- postgres: waiting for the server's answer (psycopg's wait on the socket: the SQL's execution, the loopback
  and, under load, waiting for a core);
- pool: waiting for a connection to be lent (psycopg_pool's waiting client), and checking it before lending;
- json: decoding the answers (the json module, whether psycopg's jsonb loader or the backend calls it);
- coordination: the benchmark's own pauses (think time, the booking race's barrier): not the portal's time;
- python: everything else (building the call, the portal's Python, psycopg's own work, the profiler's overhead).

Categories are cumulative times of the functions `_matchers` names, none of which calls another's, so they add
up; the remainder is `python`.
"""

from __future__ import annotations

import cProfile
import json
import pstats
import threading
from collections.abc import Callable
from typing import Any


def _key(function: Any) -> tuple[str, int, str]:
    """pstats' key of a Python function: (file, first line, name)."""
    code = function.__code__
    return (code.co_filename, code.co_firstlineno, code.co_name)


Matcher = tuple[str, Callable[[tuple[str, int, str]], bool], bool]  # category, key test, self time only


def _matchers() -> list[Matcher]:
    """(category, does this pstats key belong to it, count only its own time), for functions none of which calls
    another's."""
    import psycopg
    import psycopg_pool.pool

    from portal.db import local

    def python(category: str, function: Any, own_time: bool = False) -> Matcher:
        key = _key(function)
        return category, lambda k: k == key, own_time

    def builtin(category: str, name: str) -> Matcher:
        # C functions appear as ('~', 0, '<built-in method module.name>').
        return category, lambda k: k[0] == "~" and k[2].endswith(f".{name}>"), False

    return [
        # psycopg waits on the socket in a compiled function that cProfile does not see (wait_c in the binary
        # build), so the wait is Connection.wait's own time; the generator it drives is psycopg's Python work.
        python("postgres", psycopg.Connection.wait, own_time=True),
        python("pool", psycopg_pool.pool.WaitingClient.wait),  # no connection free: the caller queues
        python("pool", local._check_before_lending),
        python("json", json.loads),
        builtin("coordination", "sleep"),  # think time
        python("coordination", threading.Barrier.wait),  # the booking race's start
    ]


CATEGORIES = ("postgres", "pool", "json", "coordination", "python")


class ThreadProfiles:
    """Collects one profile per thread; `wrap(target)` is the thread's target run under its own profile."""

    def __init__(self) -> None:
        self._profiles: list[cProfile.Profile] = []

    def wrap(self, target: Callable[[], None]) -> Callable[[], None]:
        def profiled() -> None:
            profile = cProfile.Profile()
            self._profiles.append(profile)  # list.append is atomic under the GIL
            profile.enable()
            try:
                target()
            finally:
                profile.disable()

        return profiled

    def split(self) -> dict[str, Any]:
        """Seconds and shares per category, over every thread's profile; {} when nothing was profiled."""
        profiles = [p for p in self._profiles if p.getstats()]
        if not profiles:
            return {}
        stats = pstats.Stats(profiles[0])
        for p in profiles[1:]:
            stats.add(p)
        total = float(stats.total_tt)  # type: ignore[attr-defined]
        seconds = dict.fromkeys(CATEGORIES, 0.0)
        matchers = _matchers()
        for key, (_cc, _nc, own, cumulative, _callers) in stats.stats.items():  # type: ignore[attr-defined]
            for category, matches, own_time in matchers:
                if matches(key):
                    seconds[category] += own if own_time else cumulative
                    break
        seconds["python"] = max(0.0, total - sum(seconds.values()))
        portal = total - seconds["coordination"]
        return {
            "threads": len(profiles),
            "total_s": round(total, 2),
            "seconds": {k: round(v, 2) for k, v in seconds.items()},
            # Shares of the time the portal took (coordination left out): what a page's wait is made of.
            "share_of_portal_time": {
                k: round(v / portal, 3) if portal > 0 else 0.0 for k, v in seconds.items() if k != "coordination"
            },
        }


def print_split(split: dict[str, Any]) -> None:
    if not split:
        return
    shares = split["share_of_portal_time"]
    print(
        f"  where the time goes ({split['threads']} threads, cProfile, {split['total_s']:.1f} thread-s): "
        + ", ".join(f"{k} {shares[k]:.0%}" for k in CATEGORIES if k in shares)
        + f" (coordination {split['seconds']['coordination']:.1f} s left out)"
    )
