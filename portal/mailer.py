"""The sender: delivers the outbox (private.outbox) over SMTP, and in local mode to a mailbox folder.

    python -m portal.mailer            # one process per deployment; polls every few seconds
    python -m portal.mailer --once     # deliver what is due, then stop

Rows are claimed through public.outbox_claim (a lease, FOR UPDATE SKIP LOCKED: two senders never
take the same row) and settled through public.outbox_settle: sent; held (nowhere to send yet: the
address is not verified, or it is a reserved example address like the demo world's); or retried with
back-off (1, 2, 4 ... minutes) when the server is down or refuses, until it fails after 8 attempts.
Delivery is at least once: a sender that dies between the server's acceptance and the settle sends
that row again when its lease runs out.

Account messages (private.account_links: a registration's verification link, "someone tried to
register with your email", a password reset link, a member's own verification link) are claimed the
same way (account_links_claim). The sender mints each link's token as it sends (a new one on every
attempt), stores only its sha256 (account_link_arm) and puts the token only in the email. Only a
verification link may go to an unverified address.

Every few minutes it also re-reads consultants' own calendars (portal.calendar_sync: busy times only).

Settings (environment or st.secrets): SMTP_HOST, SMTP_PORT (587), SMTP_USER, SMTP_PASSWORD,
SMTP_FROM, SMTP_STARTTLS (on unless "0"), PORTAL_BASE_URL (links in the emails; the app's own sender thread
defaults it to the address the app is served at, this command to http://localhost:8501). Without SMTP_HOST
nothing leaves the machine: in local mode every message — to the demo world's reserved .example addresses and to
addresses not verified yet too — is written as an .eml under the data directory's mailbox/, numbered in the order
written, readable by the machine's owner alone (a developer's convenience: `python -m portal.local_mailbox`), and
settled as sent ("Sent to the local mailbox" on the admin's Outbox). With SMTP_HOST nothing is written there, and
those addresses are held: a reserved address is never sent, an unverified one waits for its verification. No
page shows a message's content.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import smtplib
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from portal.account_links import VERIFICATION_KINDS, VERIFY_HOURS, new_token
from portal.calendar_sync import CalendarSweep, ReadLimits
from portal.db import SERVICE, APIError, Backend, DatabaseUnavailable
from portal.email_messages import build_link_message, build_message, build_summary

log = logging.getLogger(__name__)

#: RFC 2606 / 6761 names that never belong to anyone: the demo world's addresses end in .example.
RESERVED_SUFFIXES = (".example", ".test", ".invalid", ".localhost", "@example.com", "@example.org", "@example.net")


@dataclass(frozen=True)
class MailSettings:
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_user: str | None = None
    smtp_password: str | None = None
    sender: str = "Peer Consultation Portal <no-reply@localhost>"
    starttls: bool = True
    base_url: str = "http://localhost:8501"
    mailbox_dir: Path | None = None  # local mode without SMTP_HOST: every message written here as .eml (0600)

    @classmethod
    def from_environment(
        cls, get: Callable[[str], str | None] | Mapping[str, Any] | None = None, *, mailbox_dir: Path | None = None
    ) -> MailSettings:
        lookup = get.get if isinstance(get, Mapping) else (get or os.environ.get)

        def value(name: str) -> str | None:
            found = lookup(name)
            return str(found).strip() if found not in (None, "") else None

        return cls(
            smtp_host=value("SMTP_HOST"),
            smtp_port=int(value("SMTP_PORT") or 587),
            smtp_user=value("SMTP_USER"),
            smtp_password=value("SMTP_PASSWORD"),
            sender=value("SMTP_FROM") or cls.sender,
            starttls=(value("SMTP_STARTTLS") or "1").lower() not in ("0", "false", "no", "off"),
            base_url=value("PORTAL_BASE_URL") or cls.base_url,
            mailbox_dir=mailbox_dir,
        )


def reserved_address(address: str) -> bool:
    return address.strip().lower().endswith(RESERVED_SUFFIXES)


class Mailer:
    def __init__(
        self,
        backend: Backend,
        settings: MailSettings,
        *,
        reminders_every_s: float = 60.0,
        calendars: CalendarSweep | None = None,
    ) -> None:
        self.backend = backend
        self.settings = settings
        self.reminders_every_s = reminders_every_s
        self._reminders_swept_at: float | None = None
        self.calendars = calendars  # consultants' own calendars, re-read every few minutes (issue 27)

    def write_due_reminders(self) -> None:
        """Reminders (a session tomorrow, a final session in 7 days, a plan awaiting a signature for 2 days)
        are written for members who are away too, so they reach the outbox without anyone opening a page.
        Once a minute is enough for reminders counted in hours and days; each is written once (dedup keys)."""
        now = time.monotonic()
        if self._reminders_swept_at is None or now - self._reminders_swept_at >= self.reminders_every_s:
            self._reminders_swept_at = now
            try:
                self.backend.rpc("write_due_reminders", {}, as_user=SERVICE)
            except (APIError, DatabaseUnavailable) as exc:  # written on the next sweep; delivery goes on
                log.warning("reminders not written this time: %s", exc)

    def run_once(self, limit: int = 20) -> dict[str, int]:
        """Deliver what is due now (one batch); returns how many rows ended sent, held and retried."""
        outcomes = {"sent": 0, "held": 0, "retry": 0}
        self.write_due_reminders()
        if self.calendars is not None:
            self.calendars.run_if_due()
        self._deliver_account_links(limit, outcomes)
        rows = self.backend.rpc("outbox_claim", {"p_limit": limit}, as_user=SERVICE) or []
        with _BatchConnection(self) as server:
            for group in self._messages(rows):
                outcome, detail = self._deliver_locally(group)
                if outcome is None:
                    outcome, detail = server.send(group)
                for row in group["rows"]:
                    self.backend.rpc(
                        "outbox_settle", {"p_id": row["id"], "p_outcome": outcome, "p_detail": detail}, as_user=SERVICE
                    )
                    outcomes[outcome] += 1
        return outcomes

    def _deliver_account_links(self, limit: int, outcomes: dict[str, int]) -> None:
        """Account messages first: someone is waiting on the page for them."""
        rows = self.backend.rpc("account_links_claim", {"p_limit": limit}, as_user=SERVICE) or []
        with _BatchConnection(self) as server:
            for row in rows:
                token = None
                if row["kind"] != "already_registered":
                    token, hashed = new_token()
                    if (
                        self.backend.rpc(
                            "account_link_arm", {"p_id": row["id"], "p_token_hash": hashed}, as_user=SERVICE
                        )
                        is None
                    ):
                        continue  # another sender took it over (lease ran out): theirs is the live link
                message = build_link_message(
                    row, token=token, sender=self.settings.sender, base_url=self.settings.base_url
                )
                outcome, detail = self._deliver_locally(
                    {
                        "first": {
                            "id": row["id"],
                            "kind": f"account-{row['kind']}",
                            "recipient_email": row["email"],
                            "email_verified": row["kind"] in VERIFICATION_KINDS or row["email_verified"],
                        },
                        "message": message,
                    }
                )
                if outcome is None:
                    outcome, detail = server.send({"message": message, "first": {"recipient_email": row["email"]}})
                self.backend.rpc(
                    "account_links_settle",
                    {"p_id": row["id"], "p_outcome": outcome, "p_detail": detail},
                    as_user=SERVICE,
                )
                outcomes[outcome] += 1

    def _messages(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """One email per row, except that a member's summary rows make one email together."""
        groups: list[dict[str, Any]] = []
        summaries: dict[str, dict[str, Any]] = {}
        for row in rows:
            if row.get("summary"):
                group = summaries.get(row["recipient_id"])
                if group is None:
                    group = summaries[row["recipient_id"]] = {"rows": [], "first": row}
                    groups.append(group)
                group["rows"].append(row)
            else:
                groups.append({"rows": [row], "first": row})
        for group in groups:
            first = group["first"]
            group["message"] = (
                build_summary(group["rows"], sender=self.settings.sender, base_url=self.settings.base_url)
                if first.get("summary")
                else build_message(first, sender=self.settings.sender, base_url=self.settings.base_url)
            )
        return groups

    def _deliver_locally(self, group: dict[str, Any]) -> tuple[str | None, str | None]:
        """The mailbox copy, and the outcomes decided without a server; (None, None): send it over SMTP."""
        row, message = group["first"], group["message"]
        if not self.settings.smtp_host:
            saved = self._write_to_mailbox(row, message) if self.settings.mailbox_dir is not None else None
            return ("sent", f"mailbox:{saved.name}") if saved else ("held", "No mail server is set up (SMTP_HOST).")
        if reserved_address(row["recipient_email"]):
            return "held", "A reserved example address (the demo world's): never sent."
        if not row["email_verified"]:
            return "held", "The address is not verified yet."
        return None, None

    def _write_to_mailbox(self, row: dict[str, Any], message: Any) -> Path:
        """Local mode without a mail server: the message as an .eml for the person running this machine, readable
        by the owner alone (folder 0700, file 0600 from its first byte). Account messages carry live links, so
        their files go once the longest link in them (a verification's) has expired, as the link does."""
        folder = self.settings.mailbox_dir
        assert folder is not None
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        folder.chmod(0o700)  # a folder made earlier, or by a looser umask
        _forget_expired_account_messages(folder)
        kind = "summary" if row.get("summary") else row["kind"]
        saved, descriptor = _new_mailbox_file(folder, kind)
        with os.fdopen(descriptor, "wb") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(bytes(message))
        return saved

    def _connect(self) -> smtplib.SMTP:
        if not self.settings.smtp_host:  # _deliver_locally keeps such messages from here
            raise smtplib.SMTPException("No mail server is set up (SMTP_HOST).")
        smtp = smtplib.SMTP(self.settings.smtp_host, self.settings.smtp_port, timeout=20)
        if self.settings.starttls:
            smtp.starttls()
        if self.settings.smtp_user:
            smtp.login(self.settings.smtp_user, self.settings.smtp_password or "")
        return smtp

    def _send(self, smtp: smtplib.SMTP, group: dict[str, Any]) -> tuple[str, str]:
        try:
            smtp.send_message(group["message"])
        except (OSError, smtplib.SMTPException) as exc:
            return "retry", f"The mail server refused or failed: {exc}"
        return "sent", group["first"]["recipient_email"]

    def run_forever(self, stop: threading.Event, *, poll_seconds: float = 5.0) -> None:
        """Deliver until `stop` is set; a database or server outage is logged and waited out."""
        while not stop.is_set():
            try:
                busy = sum(self.run_once().values())
            except (APIError, DatabaseUnavailable, OSError) as exc:
                log.warning("outbox delivery paused: %s", exc)
                busy = 0
            if not busy:
                stop.wait(poll_seconds)


def _new_mailbox_file(folder: Path, kind: str) -> tuple[Path, int]:
    """The next file of the mailbox, "<number>-<kind>.eml", created (owner-only) and open for writing. One numbering
    for every message, in the order written: the outbox and the account messages each count their own rows, so
    their ids made two numberings side by side. O_EXCL: another sender writing at the same moment takes the next
    number instead of this one's file."""
    number = max((mailbox_number(p.name) or 0 for p in folder.glob("*.eml")), default=0) + 1
    while True:
        path = folder / f"{number:06d}-{kind}.eml"
        try:
            return path, os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            number += 1


def mailbox_number(name: str) -> int | None:
    """A mailbox file's number ("000012-booked.eml" -> 12), or None for a name the sender did not write."""
    head = name.split("-", 1)[0]
    return int(head) if head.isdigit() else None


def served_base_url(*, port: int, address: str | None = None, base_path: str = "", https: bool = False) -> str:
    """The address the app is served at, as a browser on this machine opens it: the default for PORTAL_BASE_URL in
    local mode, so that a link in an email opens the app on whatever port it runs (not always 8501)."""
    host = (address or "").strip() or "localhost"
    if host in ("0.0.0.0", "::"):  # every interface: this machine reaches it as localhost
        host = "localhost"
    path = base_path.strip("/")
    return f"{'https' if https else 'http'}://{host}:{port}" + (f"/{path}" if path else "")


def _forget_expired_account_messages(folder: Path) -> None:
    """Account messages (their links) older than a verification link lives are of no use to anyone: removed."""
    oldest = time.time() - VERIFY_HOURS * 3600
    for path in folder.glob("*-account-*.eml"):
        try:
            if path.stat().st_mtime < oldest:
                path.unlink()
        except FileNotFoundError:  # another sender removed it first
            pass


class _BatchConnection:
    """One SMTP connection per batch, opened by the first message that needs the server. A server that cannot be
    reached makes every message of the batch a retry, with the reason, without trying again for each."""

    def __init__(self, mailer: Mailer) -> None:
        self.mailer = mailer
        self.smtp: smtplib.SMTP | None = None
        self.error: str | None = None

    def __enter__(self) -> _BatchConnection:
        return self

    def send(self, group: dict[str, Any]) -> tuple[str, str]:
        if self.smtp is None and self.error is None:
            try:
                self.smtp = self.mailer._connect()
            except (OSError, smtplib.SMTPException) as exc:
                self.error = f"The mail server could not be reached: {exc}"
        if self.smtp is None:
            return "retry", self.error or "The mail server could not be reached."
        return self.mailer._send(self.smtp, group)

    def __exit__(self, *_exc: object) -> None:
        if self.smtp is not None:
            try:
                self.smtp.quit()
            except (OSError, smtplib.SMTPException):
                pass


def calendar_sweep(backend: Backend, settings: Any) -> CalendarSweep | None:
    """The calendar sweep, when the server has the key that opens consultants' calendar addresses."""
    from portal.config import ConfigurationError

    try:
        return CalendarSweep(backend, settings.resolved_calendar_key(), limits=ReadLimits.from_environment())
    except ConfigurationError as exc:
        log.warning("consultants' calendars are not read: %s", exc)
        return None


def main(argv: list[str] | None = None) -> int:
    from portal.config import Settings

    parser = argparse.ArgumentParser(description="Deliver the portal's outbox.")
    parser.add_argument("--once", action="store_true", help="deliver what is due, then stop")
    parser.add_argument("--poll", type=float, default=5.0, help="seconds between polls (default 5)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    # SIGINT (the unit's KillSignal) and SIGTERM stop the sender, however it was started: a process started in the
    # background of a shell without job control inherits SIGINT ignored, and Python then installs no handler.
    for stopping in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stopping, signal.default_int_handler)
    try:
        return _deliver(args, Settings.load())
    except KeyboardInterrupt:
        log.info("stopped")
        return 0


def _deliver(args: argparse.Namespace, settings: Any) -> int:
    from portal.db import open_backend

    backend = open_backend(settings)
    mail = MailSettings.from_environment(
        mailbox_dir=settings.data_dir / "mailbox" if settings.backend == "local" else None
    )
    mailer = Mailer(backend, mail, calendars=calendar_sweep(backend, settings))
    if args.once:
        print(mailer.run_once(limit=500))
        return 0
    log.info("delivering the outbox every %s s; SIGINT or SIGTERM stops it", args.poll)
    mailer.run_forever(threading.Event(), poll_seconds=args.poll)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
