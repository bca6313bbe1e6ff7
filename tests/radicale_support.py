"""A real CalDAV server for the calendar tests: Radicale on loopback, its storage in a temporary folder.

Radicale serves each calendar both over CalDAV and, on a plain GET of the collection, as one iCalendar
file: the portal's two ways of reading a calendar meet the same events.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import require_tool


@dataclass
class RadicaleServer:
    url: str  # http://127.0.0.1:<port>/
    process: subprocess.Popen
    folder: Path

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        shutil.rmtree(self.folder, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_radicale() -> RadicaleServer:
    """Radicale with `auth none` (any username and password is that user) and open rights: its export URL needs
    no credentials, like a secret iCalendar address."""
    folder = Path(tempfile.mkdtemp(prefix="radicale-"))
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "radicale",
            "--server-hosts",
            f"127.0.0.1:{port}",
            "--auth-type",
            "none",
            "--rights-type",
            "authenticated",
            "--storage-filesystem-folder",
            str(folder / "collections"),
            "--logging-level",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    server = RadicaleServer(f"http://127.0.0.1:{port}/", process, folder)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Radicale stopped: {process.stderr.read().decode()}")
        try:
            httpx.get(server.url, timeout=1)
            return server
        except httpx.HTTPError:
            time.sleep(0.1)
    server.stop()
    raise RuntimeError("Radicale did not answer within 30 seconds")


@pytest.fixture(scope="module")
def radicale():
    try:
        import radicale as _radicale  # noqa: F401
    except ImportError:
        require_tool(False, "Radicale (requirements-dev.lock)")
    server = start_radicale()
    yield server
    server.stop()
