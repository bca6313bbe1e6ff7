"""More than one machine (issue 25, item 4), on loopback: app replicas behind nginx with the deploy recipe's
affinity, and mail senders run as the recipe's service unit runs them, all against one database.

The balancer is Debian's nginx with deploy/nginx/portal-balancer.conf and portal-proxy.conf included as they are,
except that the upstream servers' ports are the test replicas' free ports; the senders run the ExecStart of
deploy/systemd/portal-mailer@.service with this interpreter. Logs go to test-artifacts/replicas/.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import bcrypt
import httpx
import psycopg
from aiosmtpd.controller import Controller

from portal.db import SERVICE, Claims
from tests.app_server import ARTIFACTS, AppServer, poll_until
from tests.gateway import find_nginx
from tests.mail_support import Inbox
from tests.postgrest_server import free_port

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"
LOGS = ARTIFACTS / "replicas"
START_TIMEOUT = 20_000  # ms: nginx answering through to a replica

#: The recipe's replicas: upstream name and the port portal-balancer.conf gives its primary server.
RECIPE_REPLICAS = {"portal_a": 8501, "portal_b": 8502}
AFFINITY_COOKIE = "portal_replica"
REPLICA_HEADER = "x-portal-replica"

_NGINX_CONF = """
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 512; }}
http {{
  # Temporary files in the work directory (nothing here buffers to disk: proxy_buffering is off).
  client_body_temp_path {dir}/client_body;
  proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi;
  uwsgi_temp_path {dir}/uwsgi;
  scgi_temp_path {dir}/scgi;
  include {dir}/portal-balancer.conf;
  server {{
    listen 127.0.0.1:{port};
    access_log {dir}/access.log portal_replicas;
    location / {{
      include {proxy};
    }}
  }}
}}
"""


def balancer_conf(replica_ports: dict[str, int]) -> str:
    """deploy/nginx/portal-balancer.conf with each recipe port (8501, 8502) replaced by the test replica's port."""
    text = (DEPLOY / "nginx" / "portal-balancer.conf").read_text()
    by_recipe_port = {str(RECIPE_REPLICAS[name]): str(port) for name, port in replica_ports.items()}
    replaced, count = re.subn(
        r"server 127\.0\.0\.1:(\d+)", lambda m: f"server 127.0.0.1:{by_recipe_port[m.group(1)]}", text
    )
    assert count == 2 * len(RECIPE_REPLICAS), f"the recipe's upstream servers changed shape ({count} found)"
    return replaced


@dataclass(frozen=True)
class Served:
    """One line of the balancer's access log (deploy/nginx/portal-balancer.conf's log_format portal_replicas)."""

    request: str
    status: int
    cookie: str | None  # the replica the browser's cookie named, None without one
    replica: str  # the replica the balancer chose
    upstream_port: int  # the port nginx actually connected to

    LINE = re.compile(
        r'"(?P<request>[^"]*)" (?P<status>\d+) cookie=(?P<cookie>\S+) replica=(?P<replica>\S+) '
        r"upstream=127\.0\.0\.1:(?P<port>\d+)$"
    )

    @classmethod
    def parse(cls, line: str) -> Served:
        found = cls.LINE.search(line.strip())
        assert found, f"an access log line not in the portal_replicas format (or sent to two upstreams): {line!r}"
        cookie = found["cookie"]
        return cls(
            found["request"],
            int(found["status"]),
            None if cookie == "-" else cookie,
            found["replica"],
            int(found["port"]),
        )


class Balancer:
    """nginx in front of the replicas, configured with the deploy recipe's affinity."""

    def __init__(self, replicas: dict[str, AppServer]) -> None:
        binary = find_nginx()
        if binary is None:
            raise FileNotFoundError("nginx not installed (Debian package nginx)")
        self.replicas = replicas
        self.port = free_port()
        self.workdir = Path(tempfile.mkdtemp(prefix="balancer-"))
        self.workdir.chmod(0o755)  # the workers may run as another user
        (self.workdir / "portal-balancer.conf").write_text(balancer_conf({n: r.port for n, r in replicas.items()}))
        conf = self.workdir / "nginx.conf"
        conf.write_text(
            _NGINX_CONF.format(dir=self.workdir, port=self.port, proxy=DEPLOY / "nginx" / "portal-proxy.conf")
        )
        self.process = subprocess.Popen(
            [binary, "-p", str(self.workdir), "-c", str(conf), "-e", str(self.workdir / "error.log")],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        self._wait_healthy()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def replica_of_port(self, port: int) -> str:
        return next(name for name, replica in self.replicas.items() if replica.port == port)

    def _wait_healthy(self) -> None:
        """Until nginx answers the health check through to a replica (each try a request), or it exits."""

        def answered() -> bool | None:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                return httpx.get(f"{self.url}/_stcore/health", timeout=2).text == "ok" or None
            except httpx.HTTPError:
                return None

        try:
            poll_until(answered, what="the balancer did not answer", timeout=START_TIMEOUT)
        except AssertionError as failure:
            self.stop()
            raise TimeoutError(f"{failure}:\n{self.log_tail()}") from None

    def served(self) -> list[Served]:
        path = self.workdir / "access.log"
        return [Served.parse(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []

    def log_tail(self) -> str:
        path = self.workdir / "error.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        LOGS.mkdir(parents=True, exist_ok=True)
        for name in ("access.log", "error.log"):
            if (self.workdir / name).exists():
                shutil.copy(self.workdir / name, LOGS / f"balancer-{name}")
        shutil.rmtree(self.workdir, ignore_errors=True)


# --- the mail senders -----------------------------------------------------------------------------------------


def unit_command(unit: str) -> list[str]:
    """A service unit's ExecStart (continuation lines joined) as argv, run with this interpreter."""
    text = (DEPLOY / "systemd" / unit).read_text().replace("\\\n", " ")
    line = next(line for line in text.splitlines() if line.startswith("ExecStart="))
    argv = shlex.split(line.removeprefix("ExecStart="))
    assert Path(argv[0]).name == "python", f"{unit} no longer starts python: {argv}"
    return [sys.executable, *argv[1:]]


@dataclass
class Sender:
    """`python -m portal.mailer` as portal-mailer@.service runs it, with its own SMTP server on loopback (so each
    message received says which sender delivered it)."""

    number: int
    process: subprocess.Popen
    smtp: Controller
    inbox: Inbox
    log_path: Path

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:] if self.log_path.exists() else "(no log)"

    def stop(self, timeout: float = 30.0) -> int:
        """SIGINT, as the unit's KillSignal: the sender stops between batches. Returns its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        return self.process.returncode


def _sender_environment(app_environment: dict[str, str], smtp_port: int, data_dir: Path, base_url: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PORTAL_", "SUPABASE_", "SMTP_"))}
    env.update(app_environment)  # PORTAL_BACKEND=supabase, SUPABASE_URL (the gateway), keys, PORTAL_COOKIE_KEY
    env.update(
        {
            "PORTAL_DATA_DIR": str(data_dir),
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(smtp_port),
            "SMTP_STARTTLS": "0",  # a server on loopback
            "SMTP_FROM": "Peer Consultation Portal <no-reply@portal.test>",
            "PORTAL_BASE_URL": base_url,
            "PYTHONUNBUFFERED": "1",
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }
    )
    return env


@contextmanager
def running_senders(count: int, app_environment: dict[str, str], base_url: str) -> Iterator[list[Sender]]:
    """`count` senders against the database behind app_environment; stopped (SIGINT) when the block ends."""
    LOGS.mkdir(parents=True, exist_ok=True)
    data_dir = Path(tempfile.mkdtemp(prefix="senders-"))
    senders: list[Sender] = []
    try:
        for number in range(1, count + 1):
            inbox = Inbox()
            smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
            smtp.start()
            log_path = LOGS / f"sender-{number}.log"
            with open(log_path, "w") as log:
                process = subprocess.Popen(
                    unit_command("portal-mailer@.service"),
                    cwd=REPO,
                    env=_sender_environment(app_environment, smtp.port, data_dir / str(number), base_url),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            senders.append(Sender(number, process, smtp, inbox, log_path))
        yield senders
    finally:
        for sender in senders:
            sender.stop()
            sender.smtp.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


# --- two members who do not work together yet -----------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    id: str
    username: str
    display_name: str
    address: str  # verified, real-looking: the senders really send to it


def make_member(backend, owner_conninfo: str, display_name: str, password: str, *, consultant: bool) -> Member:
    """A member registered through the API (service role), living in New York State, with a verified address; a
    consultant also licensed there, with room for clients."""
    username = f"replica_{uuid.uuid4().hex[:8]}"
    member_id = backend.rpc(
        "auth_register",
        {
            "p_username": username,
            "p_email": f"{username}@test.example",
            "p_display_name": display_name,
            "p_password_hash": bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode(),
        },
        as_user=SERVICE,
    )
    backend.rpc("set_my_home_jurisdiction", {"p_jurisdiction": "NY"}, as_user=Claims.user(member_id))
    address = f"{username}@clinic-{uuid.uuid4().hex[:6]}.org"
    with psycopg.connect(owner_conninfo) as conn:
        conn.execute(
            "update private.credentials set email = %s, email_verified_at = now() where user_id = %s",
            (address, member_id),
        )
        if consultant:
            conn.execute(
                "update public.profiles set is_consultant = true, fee_usd = 130, years_in_practice = 9 where id = %s",
                (member_id,),
            )
            conn.execute(
                "insert into public.licenses (profile_id, license_type, license_number, jurisdiction, expires_on) "
                "values (%s, 'LPC', 'NY-555', 'NY', current_date + 300)",
                (member_id,),
            )
            conn.execute(
                "insert into public.competencies (consultant_id, modality, level, evidence_body) "
                "values (%s, 'ifs', 3, 'IFS Institute')",
                (member_id,),
            )
            conn.execute("update public.availability_settings set capacity = 3 where consultant_id = %s", (member_id,))
    return Member(str(member_id), username, display_name, address)


def retire(owner_conninfo: str, ids: list[str]) -> None:
    """Leave the shared database as the other modules expect it: the consultant out of the directory (the Supabase
    journey counts every NY consultant a search finds), nothing of theirs still queued for another test's sender."""
    with psycopg.connect(owner_conninfo, autocommit=True) as conn:
        conn.execute("update public.profiles set is_consultant = false where id = any (%s::uuid[])", (ids,))
        conn.execute(
            "delete from private.outbox where recipient_id = any (%s::uuid[]) and status in ('queued', 'sending', "
            "'held')",
            (ids,),
        )
