"""The app tier: the real Streamlit server, driven by concurrent sessions speaking its websocket protocol (issue 25.3).

    python bench/app.py                 # 1, 10 and 30 sessions, 30 s each, on the demo world
    python bench/app.py --quick         # 1 and 3 sessions, 2 rounds each (seconds; .ci/run runs it)
    python bench/app.py --sessions 10 --duration 60 --think-ms 500
    python bench/app.py --sessions 30,60,90 --duration 90 --think-ms 3000   # capacity with think time
    python bench/app.py --sessions 60 --think-ms 3000 --replicas 2           # two app processes, one database

Starts `streamlit run app.py` as tests/app_server.py does (a fresh data directory, the demo world, its embedded
Postgres), then for each session count opens that many sessions (bench/streamlit_client.py: one websocket each,
as a browser tab holds one), each signed in by the sign-in form as one of the demo seekers. Then every session,
with no think time unless --think-ms, repeats a round of what a member does: open Find a consultant (a run of
the page, which searches), press Search (the form submitted), open Appointments. Each is one press: the time from
the request for a run to the run's end (`script_finished`), which is what a person waits for between a click and
a drawn page. Reported per kind of press (p50, p95, max), and the presses per second the process sustained
(every press of every session over the wall time).

Checks (bench/checks.py; exits 1 on a miss): no press failed (no run error, no exception or error drawn, no
timeout), every Search press showed its results ("… consultants match"), every Appointments run drew its title,
and each session count made presses. Writes app_* keys into bench/results.json, keeping the others.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.checks import Checks  # noqa: E402
from bench.page import latency_stats  # noqa: E402
from bench.slots import RESULTS_PATH, merge_results  # noqa: E402
from bench.streamlit_client import Drawn, RunFailed, StreamlitSession  # noqa: E402
from portal.demo import DEMO_PASSWORD, SEEKERS  # noqa: E402
from tests.app_server import AppServer  # noqa: E402

FULL_LEVELS = (1, 10, 30)
QUICK_LEVELS = (1, 3)
KINDS = ("find_open", "find_search", "appointments_open")
TICK = "badge_tick"  # the sidebar's unread badge rerunning itself every 30 s in every open tab: no person waits on it
MAX_SESSIONS = 400  # bounded: each session is a thread here and a session (a script thread when running) there


@dataclass
class Level:
    """One session count's presses: seconds per kind, failures as sentences."""

    sessions: int
    presses: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in (*KINDS, TICK)})
    failures: list[str] = field(default_factory=list)
    empty: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    began: float = 0.0  # when every session was signed in and the pressing began
    ended: float = 0.0  # when the last press ended
    thought: float = 0.0  # seconds all sessions spent thinking (--think-ms), for the Little's-law check

    def note(self, kind: str, seconds: float, problem: str | None) -> None:
        with self.lock:
            self.presses[kind].append(seconds)
            self.ended = max(self.ended, time.monotonic())
            if problem:
                self.empty.append(f"{kind}: {problem}")

    def fail(self, what: str) -> None:
        with self.lock:
            self.failures.append(what)


def what_is_missing(kind: str, drawn: Drawn) -> str | None:
    """None when the press showed what it is for; otherwise what was missing, in a sentence."""
    if drawn.errors:
        return f"an error was shown: {drawn.errors[0][:160]}"
    if kind in ("find_open", "find_search") and not drawn.has_text("consultants match"):
        return f"no results were shown (headings {drawn.headings[:4]}, alerts {drawn.alerts[:2]})"
    if kind == "appointments_open" and "Appointments" not in drawn.headings:
        return f"the page's title was not drawn (headings {drawn.headings[:4]})"
    return None


def signed_in_session(url: str, number: int, timeout: float) -> StreamlitSession:
    """A session signed in as demo seeker `number` (1-based, round-robin over the demo's seekers)."""
    session = StreamlitSession(url, timeout=timeout)
    session.open()
    username = f"seeker{(number - 1) % SEEKERS + 1:02d}"
    _, drawn = session.submit("Sign in", {"Username": username, "Password": DEMO_PASSWORD})
    if "find" not in session.pages or not session.pages:
        raise RunFailed(f"{username} was not signed in (alerts: {drawn.alerts[:2]})")
    return session


def machine_cpu_s() -> float:
    """Seconds of CPU every process on the machine has used (busy time in /proc/stat, all cores)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def driver_cpu_s() -> float:
    """Seconds of CPU this process (the sessions' clients) has used."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def think(session: StreamlitSession, seconds: float, number: int, level: Level) -> None:
    """The person's pause; their open tab meanwhile sends each timed fragment's rerun when it falls due."""
    with level.lock:
        level.thought += seconds
    until = time.monotonic() + seconds
    while (due := session.due_fragment()) and due[1] < until:
        time.sleep(max(0.0, due[1] - time.monotonic()))
        started = time.perf_counter()
        try:
            elapsed, _ = session.run_fragment(due[0])
        except Exception as exc:  # noqa: BLE001 - counted as a failed tick
            level.fail(f"{TICK} (session {number}): {type(exc).__name__}: {str(exc)[:160]}")
            level.note(TICK, time.perf_counter() - started, None)
            return
        level.note(TICK, elapsed, None)
    time.sleep(max(0.0, until - time.monotonic()))


def one_session(urls: list[str], number: int, level: Level, start: threading.Barrier, args: argparse.Namespace) -> None:
    # Sessions are dealt to the replicas in turn and stay on theirs, as the balancer's affinity keeps a member.
    url = urls[(number - 1) % len(urls)]
    try:
        session = signed_in_session(url, number, args.timeout)
    except Exception as exc:  # noqa: BLE001 - every failure is counted and named
        level.fail(f"session {number} could not sign in: {type(exc).__name__}: {exc}")
        start.abort()
        return
    try:
        start.wait(timeout=args.timeout * 4)
        stop_at = time.monotonic() + args.duration
        if args.think_ms:
            # People do not all click at the same instant: with think time each session starts somewhere within
            # one mean pause, or the barrier's burst would be most of the slow presses.
            pause = args.think_ms / 1000 * ((number * 7919) % 100 / 100)
            think(session, pause, number, level)
        rounds = 0
        while (rounds < args.rounds) if args.rounds else (time.monotonic() < stop_at):
            for kind, press in (
                ("find_open", lambda: session.open_page("find")),
                ("find_search", lambda: session.submit("Search")),
                ("appointments_open", lambda: session.open_page("appointments")),
            ):
                started = time.perf_counter()
                try:
                    seconds, drawn = press()
                except Exception as exc:  # noqa: BLE001 - counted as a failed press
                    level.fail(f"{kind} (session {number}): {type(exc).__name__}: {str(exc)[:160]}")
                    level.note(kind, time.perf_counter() - started, None)
                    return
                level.note(kind, seconds, what_is_missing(kind, drawn))
                if args.think_ms:
                    think(session, args.think_ms / 1000 * (0.5 + (number * 7919 + rounds) % 100 / 100), number, level)
            rounds += 1
    except threading.BrokenBarrierError:
        level.fail(f"session {number}: another session failed to start")
    finally:
        session.close()


def run_level(urls: list[str], sessions: int, args: argparse.Namespace) -> dict[str, Any]:
    level = Level(sessions)
    start = threading.Barrier(sessions, action=lambda: setattr(level, "began", time.monotonic()))
    threads = [
        threading.Thread(target=one_session, args=(urls, n, level, start, args), daemon=True)
        for n in range(1, sessions + 1)
    ]
    load_before = os.getloadavg()
    started, cpu_before = time.monotonic(), (machine_cpu_s(), driver_cpu_s())  # one window for time and CPU
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=args.duration + args.timeout * (6 + sessions))
    machine_cpu, driver_cpu = machine_cpu_s() - cpu_before[0], driver_cpu_s() - cpu_before[1]
    presses = sum(len(level.presses[kind]) for kind in KINDS)
    ticks = len(level.presses[TICK])
    # Signing in comes before the barrier: the time counted is the pressing, from the barrier to the last press.
    busy = max(level.ended - level.began, 1e-9)
    mean_press = sum(sum(level.presses[kind]) for kind in KINDS) / max(presses, 1)
    mean_think = level.thought / max(presses, 1)
    return {
        "sessions": sessions,
        "presses": presses,
        "presses_per_s": round(presses / busy, 2),
        "badge_ticks_per_s": round(ticks / busy, 2),
        "mean_press_ms": round(mean_press * 1000, 1),
        "mean_think_ms": round(mean_think * 1000, 1),
        # Little's law: sessions = throughput x (think + press). Close to `sessions` when nothing else (signing
        # in, the client's own work) took the sessions' time, which is what licenses README's capacity table.
        "littles_law_sessions": round(presses / busy * (mean_press + mean_think), 1),
        "by_kind": {kind: latency_stats([s * 1000 for s in ms]) for kind, ms in level.presses.items()},
        "failures": level.failures,
        "empty": level.empty,
        "stuck_threads": sum(t.is_alive() for t in threads),
        # Signing in included: the machine's cores busy over the level, and how much of that was this driver (its
        # websocket clients decode every message), so a figure near saturation says whose CPU it was.
        "cpu": {
            "machine_busy_cores": round(machine_cpu / max(level.ended - started, 1e-9), 2),
            "driver_share": round(driver_cpu / machine_cpu, 3) if machine_cpu > 0 else None,
        },
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
    }


def print_level(r: dict[str, Any]) -> None:
    print(
        f"\n{r['sessions']} session(s): {r['presses']} presses, {r['presses_per_s']} presses/s, "
        f"{r['badge_ticks_per_s']} badge ticks/s (load {r['loadavg_before'][0]} -> {r['loadavg_after'][0]})"
    )
    cpu = r["cpu"]
    print(
        f"  cores busy {cpu['machine_busy_cores']} of {os.cpu_count()}, "
        f"of which this driver's clients {cpu['driver_share']:.0%}"
        if cpu["driver_share"] is not None
        else "  cores busy: not measured"
    )
    if r["mean_think_ms"]:
        print(
            f"  mean think {r['mean_think_ms']:.0f} ms, mean press {r['mean_press_ms']:.0f} ms: "
            f"presses/s x (think + press) = {r['littles_law_sessions']} sessions (Little's law; {r['sessions']} ran)"
        )
    print(f"  {'press':<20}{'n':>6}{'p50 ms':>10}{'p95 ms':>10}{'max ms':>10}")
    for kind, s in r["by_kind"].items():
        if s["n"]:
            print(f"  {kind:<20}{s['n']:>6}{s['p50_ms']:>10.1f}{s['p95_ms']:>10.1f}{s['max_ms']:>10.1f}")
    for what in (r["failures"] + r["empty"])[:5]:
        print(f"  ! {what}")


def check(checks: Checks, levels: list[dict[str, Any]]) -> None:
    for r in levels:
        n = r["sessions"]
        checks.expect(r["presses"] > 0, f"{n} session(s) made presses")
        checks.expect(not r["failures"], f"no press failed with {n} session(s) ({r['failures'][:2]})")
        checks.expect(not r["empty"], f"every press showed what it is for with {n} session(s) ({r['empty'][:2]})")
        checks.expect(r["stuck_threads"] == 0, f"every session ended with {n} session(s)")
        for kind in KINDS:
            checks.expect(r["by_kind"][kind]["n"] > 0, f"{kind} was pressed with {n} session(s)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Drive the real Streamlit server with concurrent sessions.")
    parser.add_argument("--quick", action="store_true", help="1 and 3 sessions, 2 rounds each")
    parser.add_argument("--sessions", help="session counts, e.g. 1,10,30 (the default)")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of pressing per session count")
    parser.add_argument("--rounds", type=int, help="rounds per session instead of a duration (quick: 2)")
    parser.add_argument("--think-ms", type=float, default=0, help="mean pause after each press (default none)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds one run may take")
    parser.add_argument(
        "--replicas",
        type=int,
        default=1,
        help="app processes on one database, sessions dealt to them in turn (default 1; a Python process uses"
        " about one core)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS_PATH)
    args = parser.parse_args(argv)
    if not 1 <= args.replicas <= 4:
        parser.error("--replicas is between 1 and 4")
    if args.quick and args.rounds is None:
        args.rounds = 2
    counts = (
        [int(x) for x in args.sessions.split(",")]
        if args.sessions
        else list(QUICK_LEVELS if args.quick else FULL_LEVELS)
    )
    if max(counts) > MAX_SESSIONS or min(counts) < 1:
        parser.error(f"session counts are between 1 and {MAX_SESSIONS}")
    server = AppServer(log_name="bench-app-server.log")
    print(f"starting the app (demo world) on {server.url} ...")
    server.start(timeout=180)
    # More replicas share the first one's data directory, so its embedded Postgres: one database, as deployed.
    servers = [server] + [
        AppServer(log_name=f"bench-app-server-{k}.log", data_dir=server.data_dir) for k in range(2, args.replicas + 1)
    ]
    levels: list[dict[str, Any]] = []
    try:
        for extra in servers[1:]:
            print(f"starting replica on {extra.url} (the same database) ...")
            extra.start(timeout=180)
        urls = [s.url for s in servers]
        for url in urls:
            warm = signed_in_session(url, 1, 180)  # the first run builds the database: not a press
            warm.open_page("find")
            warm.close()
        for n in counts:
            print(
                f"{n} session(s): signing in, then pressing "
                + (f"{args.rounds} rounds" if args.rounds else f"for {args.duration:.0f} s")
            )
            levels.append(run_level(urls, n, args))
            print_level(levels[-1])
    finally:
        for each in reversed(servers):
            each.stop()
    checks = Checks("bench/app.py")
    check(checks, levels)
    last = levels[-1]
    results = {
        "app_sessions": last["sessions"],
        "app_presses_per_s": last["presses_per_s"],
        "app_find_search_p50_ms": last["by_kind"]["find_search"].get("p50_ms"),
        "app_find_search_p95_ms": last["by_kind"]["find_search"].get("p95_ms"),
        "app_appointments_p50_ms": last["by_kind"]["appointments_open"].get("p50_ms"),
        "app_appointments_p95_ms": last["by_kind"]["appointments_open"].get("p95_ms"),
        "app": {
            "levels": levels,
            "think_ms": args.think_ms,
            "replicas": args.replicas,
            "quick": args.quick,
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "checks": checks.as_dict(),
        },
    }
    merge_results(args.out, results)
    print(f"\nwrote {args.out}")
    return checks.report()


if __name__ == "__main__":
    sys.exit(main())
