"""Outbox sender benchmark: how fast `python -m portal.mailer` empties the outbox into an SMTP server.

    python bench/outbox.py [--rows 2000] [--runs 3]

A fresh embedded Postgres (a temporary directory) with the portal's migrations, 50 members with
verified addresses and `--rows` notifications spread over them (each queues one outbox row, as the
portal's changes do). A real SMTP server on loopback (aiosmtpd) accepts everything. Measured per run:
the sender (portal.mailer.Mailer.run_once in batches of 100 through the local backend: claim, render,
send, settle) until the outbox is empty; and, as the baseline in the same run, smtplib sending the same
number of already-built messages over one connection (no database, no rendering). Prints the medians
and merges `outbox_rows_per_s`, `outbox_smtp_only_per_s` and `outbox_vs_smtp_only` into
bench/results.json.
"""

from __future__ import annotations

import argparse
import smtplib
import socket
import statistics
import sys
import tempfile
import time
import uuid
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from aiosmtpd.controller import Controller  # noqa: E402

from bench.slots import RESULTS_PATH, merge_results  # noqa: E402
from portal.db.bootstrap import apply_migrations, start_embedded  # noqa: E402
from portal.db.local import LocalBackend  # noqa: E402
from portal.mailer import Mailer, MailSettings  # noqa: E402


class CountingHandler:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        self.count += 1
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def queue_rows(owner_conninfo: str, members: list[str], rows: int) -> None:
    with psycopg.connect(owner_conninfo) as conn:
        conn.execute("delete from private.outbox")
        with conn.cursor() as cur:
            cur.executemany("insert into public.notifications (user_id, kind, message, page) "
                            "values (%s, 'plan_proposed', %s, 'termination')",
                            [(members[i % len(members)], f"A termination plan was proposed ({i}).")
                             for i in range(rows)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark the outbox sender.")
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS_PATH)
    args = parser.parse_args(argv)

    handler = CountingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    with tempfile.TemporaryDirectory(prefix="bench-outbox-") as tmp:
        db = start_embedded(Path(tmp))
        try:
            apply_migrations(db.owner_conninfo)
            members = [str(uuid.uuid4()) for _ in range(50)]
            with psycopg.connect(db.owner_conninfo) as conn:
                for n, member in enumerate(members):
                    conn.execute("insert into public.profiles (id, display_name) values (%s, %s)",
                                 (member, f"Bench Member {n}"))
                    conn.execute("insert into private.credentials (user_id, username, email, password_hash, "
                                 "email_verified_at) values (%s, %s, %s, '$2b$12$x', now())",
                                 (member, f"bench{n}", f"bench{n}@clinic-bench.org"))
            backend = LocalBackend(db.api_conninfo)
            mailer = Mailer(backend, MailSettings(smtp_host="127.0.0.1", smtp_port=controller.port,
                                                  starttls=False, sender="Portal <no-reply@portal.test>"))
            sender_rates, baseline_rates = [], []
            for run in range(args.runs):
                queue_rows(db.owner_conninfo, members, args.rows)
                before = handler.count
                started = time.perf_counter()
                while sum(mailer.run_once(limit=100).values()):
                    pass
                elapsed = time.perf_counter() - started
                assert handler.count - before == args.rows, (handler.count - before, args.rows)
                sender_rates.append(args.rows / elapsed)

                message = EmailMessage()
                message["Subject"], message["From"], message["To"] = "Baseline", "p@portal.test", "b@clinic-bench.org"
                message.set_content("A termination plan was proposed.")
                started = time.perf_counter()
                with smtplib.SMTP("127.0.0.1", controller.port) as smtp:
                    for _ in range(args.rows):
                        smtp.send_message(message)
                baseline_rates.append(args.rows / (time.perf_counter() - started))
                print(f"run {run + 1}: sender {sender_rates[-1]:,.0f} rows/s, "
                      f"smtplib alone {baseline_rates[-1]:,.0f} messages/s")
            backend.close()
        finally:
            db.stop()
    controller.stop()
    results = {"outbox_rows_per_s": round(statistics.median(sender_rates), 1),
               "outbox_smtp_only_per_s": round(statistics.median(baseline_rates), 1),
               "outbox_vs_smtp_only": round(statistics.median(sender_rates) / statistics.median(baseline_rates), 3),
               "outbox_rows": args.rows, "outbox_runs": args.runs}
    print(f"median: sender {results['outbox_rows_per_s']:,} rows/s; smtplib alone "
          f"{results['outbox_smtp_only_per_s']:,} messages/s; ratio {results['outbox_vs_smtp_only']}")
    merge_results(args.out, results)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
