"""The sender as a process: `portal-mailer@.service`'s command stops on SIGINT (the unit's KillSignal) and on SIGTERM,
and exits 0, however it was started.

A process started in the background of a shell without job control (`cmd &` in a script, nohup) inherits SIGINT
ignored, and Python then installs no KeyboardInterrupt handler: the sender went on polling, and the replicas test's
stop had to kill it (the stress run's round 1, started that way). Here it is started with both signals ignored.
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.app_server import postgres_running, stop_leftover_postgres
from tests.replicas import REPO, unit_command

STARTED = "embedded postgres ready"  # said by every version of the sender
START_TIMEOUT_S = 120  # the first start creates the embedded Postgres and applies every migration
STOP_TIMEOUT_S = 30


def _environment(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PORTAL_", "SUPABASE_", "SMTP_"))}
    env.update({"PORTAL_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1"})
    return env


def _read_until(process: subprocess.Popen, text: str, timeout_s: float) -> str:
    """The process's output up to the line holding `text`; bounded by `timeout_s`, and by the process's exit."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout_s
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while (left := deadline - time.monotonic()) > 0:
            if not selector.select(left):
                continue
            line = process.stdout.readline()
            if not line:
                break
            seen.append(line)
            if text in line:
                return "".join(seen)
    process.kill()
    process.wait(10)
    raise AssertionError(f"the sender never said {text!r}; its output:\n{''.join(seen)[-3000:]}")


@pytest.mark.parametrize("stopping", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_the_sender_stops_on_its_signal_even_when_started_with_it_ignored(tmp_path_factory, stopping):
    data_dir = tmp_path_factory.getbasetemp() / "mailer-process"  # one Postgres for both signals
    # A shell that ignores both signals, then becomes the sender (exec keeps ignored signals ignored).
    process = subprocess.Popen(
        ["/bin/sh", "-c", 'trap "" INT TERM; exec "$@"', "sh", *unit_command("portal-mailer@.service")],
        cwd=REPO,
        env=_environment(data_dir),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _read_until(process, STARTED, START_TIMEOUT_S)
        process.send_signal(stopping)
        told = _read_until(process, "stopped", STOP_TIMEOUT_S)
        assert process.wait(STOP_TIMEOUT_S) == 0, told
        assert not postgres_running(data_dir / "pgdata"), "the sender left its embedded Postgres running"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        stop_leftover_postgres(data_dir / "pgdata")
