"""Outbox sender benchmark: how fast `python -m portal.mailer` empties the outbox into an SMTP server.

    python bench/outbox.py [--rows 2000] [--runs 3]
    python bench/outbox.py --quick      # 200 rows, 1 run

A fresh embedded Postgres (a temporary directory) with the portal's migrations, 50 members with
verified addresses and `--rows` notifications spread over them (each queues one outbox row, as the
portal's changes do). A real SMTP server on loopback (aiosmtpd) accepts everything. Measured per run:

- the sender as it is (portal.mailer.Mailer.run_once in batches of 100 through the local backend:
  claim, render, send, settle one row per call) until the outbox is empty, with the time split by
  phase (the backend's calls timed by name, rendering and sending timed around the Mailer's own steps);
- the same sender with its settles batched: a bench-only function (created for the run) settles a
  batch's rows in one call, at the next claim — what batching outbox_settle would give, without
  changing portal/mailer.py;
- as the baseline, smtplib sending the same number of already-built messages over one connection
  (no database, no rendering).

Prints the figures and the medians, and merges into bench/results.json only its own keys:
`outbox_rows_per_s` (the sender as it is, median over runs), `outbox_smtp_only_per_s`,
`outbox_vs_smtp_only`, and the details under `outbox` (per-run figures, phases, the batched-settle
variant, rows, runs, load average). Other benchmarks' keys are kept; the file is replaced atomically.
Figures only: nothing here asserts a timing. It exits 1 when a run did not send exactly the rows queued
(nothing queued, a failed send, a row sent twice).
"""

from __future__ import annotations

import argparse
import json
import os
import smtplib
import socket
import statistics
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from email.message import EmailMessage
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from aiosmtpd.controller import Controller  # noqa: E402

from bench.checks import Checks  # noqa: E402
from bench.slots import RESULTS_PATH  # noqa: E402
from portal.db import SERVICE  # noqa: E402
from portal.db.bootstrap import apply_migrations, start_embedded  # noqa: E402
from portal.db.local import LocalBackend  # noqa: E402
from portal.mailer import Mailer, MailSettings  # noqa: E402

BATCH = 100

# Bench-only: settle many claimed rows in one call, each exactly as public.outbox_settle does.
SETTLE_MANY = """
create or replace function public.bench_outbox_settle_many(p_ids bigint[], p_outcomes text[], p_details text[])
returns integer language plpgsql volatile security definer set search_path = '' as $$
begin
  for i in 1 .. coalesce(cardinality(p_ids), 0) loop
    perform public.outbox_settle(p_ids[i], p_outcomes[i], p_details[i]);
  end loop;
  return coalesce(cardinality(p_ids), 0);
end $$;
revoke all on function public.bench_outbox_settle_many(bigint[], text[], text[]) from public;
grant execute on function public.bench_outbox_settle_many(bigint[], text[], text[]) to service_role;
"""


class CountingHandler:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        self.count += 1
        return "250 OK"


class TimedBackend:
    """The backend, with the time of each call added up by function name."""

    def __init__(self, backend: LocalBackend) -> None:
        self.backend = backend
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def rpc(self, fn: str, params: dict[str, Any] | None = None, *, as_user) -> Any:
        started = time.perf_counter()
        try:
            return self.backend.rpc(fn, params, as_user=as_user)
        finally:
            self.seconds[fn] += time.perf_counter() - started
            self.calls[fn] += 1


class BatchedSettleBackend(TimedBackend):
    """Settles are kept and sent in one call before the next claim (and at the end): what a sender that
    batches outbox_settle would do."""

    def __init__(self, backend: LocalBackend) -> None:
        super().__init__(backend)
        self.pending: list[tuple[int, str, str | None]] = []

    def rpc(self, fn: str, params: dict[str, Any] | None = None, *, as_user) -> Any:
        if fn == "outbox_settle":
            self.pending.append((params["p_id"], params["p_outcome"], params.get("p_detail")))
            return None
        if fn == "outbox_claim":
            self.flush()
        return super().rpc(fn, params, as_user=as_user)

    def flush(self) -> None:
        if self.pending:
            ids, outcomes, details = (list(x) for x in zip(*self.pending, strict=True))
            self.pending = []
            super().rpc(
                "bench_outbox_settle_many",
                {"p_ids": ids, "p_outcomes": outcomes, "p_details": details},
                as_user=SERVICE,
            )


class TimedMailer(Mailer):
    """The sender unchanged, with its rendering and sending timed."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.seconds: dict[str, float] = defaultdict(float)

    def _messages(self, rows):
        started = time.perf_counter()
        try:
            return super()._messages(rows)
        finally:
            self.seconds["render"] += time.perf_counter() - started

    def _send(self, smtp, group):
        started = time.perf_counter()
        try:
            return super()._send(smtp, group)
        finally:
            self.seconds["smtp_send"] += time.perf_counter() - started

    def _connect(self):
        started = time.perf_counter()
        try:
            return super()._connect()
        finally:
            self.seconds["smtp_connect"] += time.perf_counter() - started


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def queue_rows(owner_conninfo: str, members: list[str], rows: int) -> None:
    with psycopg.connect(owner_conninfo) as conn:
        conn.execute("delete from private.outbox")
        with conn.cursor() as cur:
            cur.executemany(
                "insert into public.notifications (user_id, kind, message, page) "
                "values (%s, 'plan_proposed', %s, 'termination')",
                [(members[i % len(members)], f"A termination plan was proposed ({i}).") for i in range(rows)],
            )


def drain(mailer: TimedMailer, backend: TimedBackend, handler: CountingHandler, rows: int) -> dict[str, Any]:
    """Empty the outbox once; the rate and where the time went."""
    before = handler.count
    started = time.perf_counter()
    while sum(mailer.run_once(limit=BATCH).values()):
        pass
    if isinstance(backend, BatchedSettleBackend):
        backend.flush()
    elapsed = time.perf_counter() - started
    phases = {
        "claim": backend.seconds.pop("outbox_claim", 0.0),
        "settle": backend.seconds.pop("outbox_settle", 0.0) + backend.seconds.pop("bench_outbox_settle_many", 0.0),
        **{k: mailer.seconds.pop(k) for k in list(mailer.seconds)},
    }
    backend.seconds.clear()
    backend.calls.clear()
    phases["other"] = max(0.0, elapsed - sum(phases.values()))
    return {
        "sent": handler.count - before,
        "rows_per_s": rows / elapsed,
        "seconds": elapsed,
        "phase_ms_per_row": {k: round(v * 1000 / rows, 3) for k, v in phases.items()},
        "phase_share": {k: round(v / elapsed, 3) for k, v in phases.items()},
    }


def smtp_only(port: int, rows: int) -> float:
    message = EmailMessage()
    message["Subject"], message["From"], message["To"] = "Baseline", "p@portal.test", "b@clinic-bench.org"
    message.set_content("A termination plan was proposed.")
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for _ in range(rows):
            smtp.send_message(message)
    return rows / (time.perf_counter() - started)


def merge_my_keys(path: Path, updates: dict[str, Any]) -> None:
    """Read results.json, set only these keys, write it back in one replace (another benchmark writing at the
    same time loses nothing of ours and never sees half a file)."""
    current: dict[str, Any] = {}
    if path.exists():
        try:
            current = json.loads(path.read_text())
        except json.JSONDecodeError:
            current = {}
    current.update(updates)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(current, indent=2, default=str))
    os.replace(temporary, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark the outbox sender.")
    parser.add_argument("--quick", action="store_true", help="200 rows, 1 run")
    parser.add_argument("--rows", type=int, help="notifications queued per run (default 2000, quick 200)")
    parser.add_argument("--runs", type=int, help="runs (default 3, quick 1)")
    parser.add_argument("--out", type=Path, default=RESULTS_PATH)
    args = parser.parse_args(argv)
    args.rows = args.rows or (200 if args.quick else 2000)
    args.runs = args.runs or (1 if args.quick else 3)

    load_before = os.getloadavg()
    handler = CountingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-outbox-") as tmp:
        db = start_embedded(Path(tmp))
        try:
            apply_migrations(db.owner_conninfo)
            members = [str(uuid.uuid4()) for _ in range(50)]
            with psycopg.connect(db.owner_conninfo) as conn:
                for n, member in enumerate(members):
                    conn.execute(
                        "insert into public.profiles (id, display_name) values (%s, %s)", (member, f"Bench Member {n}")
                    )
                    conn.execute(
                        "insert into private.credentials (user_id, username, email, password_hash, "
                        "email_verified_at) values (%s, %s, %s, '$2b$12$x', now())",
                        (member, f"bench{n}", f"bench{n}@clinic-bench.org"),
                    )
                conn.execute(SETTLE_MANY)
            local = LocalBackend(db.api_conninfo)
            settings = MailSettings(
                smtp_host="127.0.0.1", smtp_port=controller.port, starttls=False, sender="Portal <no-reply@portal.test>"
            )
            as_is, batched = TimedBackend(local), BatchedSettleBackend(local)
            for run in range(args.runs):
                queue_rows(db.owner_conninfo, members, args.rows)
                sender = drain(TimedMailer(as_is, settings), as_is, handler, args.rows)
                queue_rows(db.owner_conninfo, members, args.rows)
                batched_run = drain(TimedMailer(batched, settings), batched, handler, args.rows)
                baseline = smtp_only(controller.port, args.rows)
                runs.append({"sender": sender, "batched_settle": batched_run, "smtp_only_per_s": baseline})
                print(
                    f"run {run + 1}: sender {sender['rows_per_s']:,.0f} rows/s "
                    f"(ms per row: {sender['phase_ms_per_row']}); "
                    f"with settles batched {batched_run['rows_per_s']:,.0f} rows/s; "
                    f"smtplib alone {baseline:,.0f} messages/s"
                )
            local.close()
        finally:
            db.stop()
    controller.stop()

    def median(values) -> float:
        return round(statistics.median(values), 1)

    sender_rate = median(r["sender"]["rows_per_s"] for r in runs)
    batched_rate = median(r["batched_settle"]["rows_per_s"] for r in runs)
    baseline_rate = median(r["smtp_only_per_s"] for r in runs)
    phases = {
        k: round(statistics.median(r["sender"]["phase_ms_per_row"][k] for r in runs), 3)
        for k in runs[0]["sender"]["phase_ms_per_row"]
    }
    results = {
        "outbox_rows_per_s": sender_rate,
        "outbox_smtp_only_per_s": baseline_rate,
        "outbox_vs_smtp_only": round(sender_rate / baseline_rate, 3),
        "outbox": {
            "rows": args.rows,
            "runs": args.runs,
            "batch": BATCH,
            "rows_per_s_median": sender_rate,
            "phase_ms_per_row_median": phases,
            "batched_settle_rows_per_s_median": batched_rate,
            "batched_settle_speedup": round(batched_rate / sender_rate, 2),
            "smtp_only_per_s_median": baseline_rate,
            "per_run": [
                {
                    "sender_rows_per_s": round(r["sender"]["rows_per_s"], 1),
                    "sender_phase_share": r["sender"]["phase_share"],
                    "batched_settle_rows_per_s": round(r["batched_settle"]["rows_per_s"], 1),
                    "batched_settle_phase_ms_per_row": r["batched_settle"]["phase_ms_per_row"],
                    "smtp_only_per_s": round(r["smtp_only_per_s"], 1),
                }
                for r in runs
            ],
            "load_average_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
            "cpus": os.cpu_count(),
        },
    }
    print(
        f"median over {args.runs} runs of {args.rows} rows: sender {sender_rate:,} rows/s "
        f"(ms per row: {phases}); with settles batched {batched_rate:,} rows/s "
        f"(×{results['outbox']['batched_settle_speedup']}); smtplib alone {baseline_rate:,} messages/s; "
        f"sender / smtplib {results['outbox_vs_smtp_only']}"
    )
    merge_my_keys(args.out, results)
    print(f"wrote outbox_rows_per_s and outbox* into {args.out}")
    checks = Checks("bench/outbox.py")
    for n, r in enumerate(runs, start=1):
        for way in ("sender", "batched_settle"):
            sent = r[way]["sent"]
            checks.expect(sent == args.rows, f"run {n}, {way}: sent exactly the {args.rows} rows queued (sent {sent})")
    return checks.report()


if __name__ == "__main__":
    raise SystemExit(main())
