"""Run a real PostgREST against the embedded Postgres, for the contract tests.

The binary comes from `.ci/install_postgrest.sh` (.tools/bin/postgrest), from
$POSTGREST_BIN, or from PATH. It connects as `authenticator` over the embedded
server's unix socket, exactly as the local backend does, and listens on a free
loopback port. Every wait is bounded.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx

REPO = Path(__file__).resolve().parents[1]
LOCAL_BINARY = REPO / ".tools" / "bin" / "postgrest"

# HS256 secret shared by PostgREST and the test's TokenMinter (>= 32 chars).
TEST_JWT_SECRET = "contract-test-jwt-secret-0123456789abcdefghijklmnop"

START_TIMEOUT = 30.0  # seconds for PostgREST to answer after launch
STOP_TIMEOUT = 10.0  # seconds to exit after SIGTERM before SIGKILL


def find_postgrest() -> str | None:
    """Path of the PostgREST binary, or None when it is not installed."""
    candidates = [os.environ.get("POSTGREST_BIN"), str(LOCAL_BINARY), shutil.which("postgrest")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def db_uri(socket_dir: str, database: str = "portal", role: str = "authenticator") -> str:
    """libpq URI for a unix-socket connection (the host goes in the query string)."""
    return f"postgres://{role}@/{database}?host={quote(str(socket_dir), safe='')}"


@dataclass
class PostgrestServer:
    process: subprocess.Popen
    port: int
    workdir: Path
    log_path: Path
    jwt_secret: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, limit: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-limit:]
        except OSError:
            return ""

    def reload_schema(self, timeout: float = 10.0) -> None:
        """Reload PostgREST's schema cache (SIGUSR1) and wait until it answers again."""
        self.process.send_signal(signal.SIGUSR1)
        _wait_ready(self, timeout)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT)
        shutil.rmtree(self.workdir, ignore_errors=True)


def _config(uri: str, port: int, jwt_secret: str) -> str:
    def q(value: str) -> str:
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'

    settings = {
        "db-uri": uri,
        "db-schemas": "public",
        "db-anon-role": "anon",
        "db-extra-search-path": "public, extensions",
        "db-pool": "4",
        "db-pool-acquisition-timeout": "10",
        "db-config": "false",
        "jwt-secret": jwt_secret,
        "server-host": "127.0.0.1",
        "server-port": str(port),
        "log-level": "info",
    }
    lines = []
    for key, value in settings.items():
        bare = value.isdigit() or value in ("true", "false")
        lines.append(f"{key} = {value if bare else q(value)}")
    return "\n".join(lines) + "\n"


def _wait_ready(server: PostgrestServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer"
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise RuntimeError(f"PostgREST exited with {server.process.returncode}:\n{server.log_tail()}")
            try:
                response = client.get(server.url + "/")
            except httpx.HTTPError as exc:
                last = repr(exc)
            else:
                if response.status_code == 200:
                    return
                last = f"HTTP {response.status_code}: {response.text[:200]}"
            time.sleep(0.1)
    raise TimeoutError(f"PostgREST not ready after {timeout:.0f}s ({last}):\n{server.log_tail()}")


def start_postgrest(
    socket_dir: str,
    *,
    binary: str | None = None,
    jwt_secret: str = TEST_JWT_SECRET,
    database: str = "portal",
    uri: str | None = None,
    timeout: float = START_TIMEOUT,
    attempts: int = 3,
) -> PostgrestServer:
    """Start PostgREST on a free loopback port and wait until GET / answers 200.

    It reaches the database over socket_dir, or over `uri` when given (a TCP URI with a password,
    as on a Supabase project)."""
    binary = binary or find_postgrest()
    if binary is None:
        raise FileNotFoundError("PostgREST binary not found; run .ci/install_postgrest.sh")
    last_error: Exception | None = None
    for _ in range(attempts):  # a free port can be taken between probing and binding
        workdir = Path(tempfile.mkdtemp(prefix="postgrest-"))
        port = free_port()
        config_path = workdir / "postgrest.conf"
        config_path.write_text(_config(uri or db_uri(socket_dir, database), port, jwt_secret))
        log_path = workdir / "postgrest.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [binary, str(config_path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=workdir,
                env={k: v for k, v in os.environ.items() if not k.startswith("PGRST_")},
            )
        server = PostgrestServer(process, port, workdir, log_path, jwt_secret)
        try:
            _wait_ready(server, timeout)
            return server
        except (RuntimeError, TimeoutError) as exc:
            last_error = exc
            server.stop()
    raise RuntimeError(f"could not start PostgREST: {last_error}")


def supabase_backend_for(server: PostgrestServer):
    """The portal's Supabase backend (supabase-py) talking to this bare PostgREST: supabase-py calls
    <url>/rest/v1/..., which a small transport maps to <url>/...; only loopback is contacted. Close it after."""
    import httpx
    import jwt

    from portal.db.supabase_backend import SupabaseBackend
    from portal.db.tokens import TokenMinter

    class _Bare(httpx.HTTPTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            if request.url.host != "127.0.0.1":
                raise httpx.ConnectError(f"tests stay on loopback, not {request.url.host}", request=request)
            if request.url.path.startswith("/rest/v1"):
                request.url = request.url.copy_with(path=request.url.path[len("/rest/v1") :] or "/")
            return super().handle_request(request)

    anon_key = jwt.encode({"role": "anon"}, server.jwt_secret, algorithm="HS256")
    http = httpx.Client(transport=_Bare(), timeout=httpx.Timeout(15.0))
    return SupabaseBackend(server.url, anon_key, TokenMinter(secret=server.jwt_secret), httpx_client=http)
