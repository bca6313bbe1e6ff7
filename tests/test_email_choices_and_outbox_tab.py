"""Members choose their emails on My profile, and admins read the Outbox (#13).

The groups' names live once in Python (portal/email_choices.py) and must equal what the database accepts;
My profile saves the switches through the real RPCs and says what was saved; the admin's Outbox tab lists
the outbox with each row's status and, in local mode, the local mailbox's messages with clickable links
(portal/local_mailbox.py, tested without Streamlit); members and strangers see none of it."""

from __future__ import annotations

import email
import os
import re
import stat
import uuid
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import psycopg
import pytest

from portal.appointments import book
from portal.db import SERVICE, APIError, Claims
from portal.demo import demo_world
from portal.email_choices import (
    EMAIL_GROUPS,
    GROUPS,
    choices_in_words,
    muted_from_switches,
    my_email_choices,
    outbox_status,
    save_email_choices,
)
from portal.local_mailbox import links, list_messages, read_text
from portal.mailer import Mailer, MailSettings
from tests.mail_support import open_times, pair
from tests.page_support import PAGES, app, no_exceptions, texts
from tests.people_support import make_account


def demo_claims(username: str) -> Claims:
    return Claims.user(str(next(p.id for p in demo_world() if p.username == username)))


def user_claims(backend, username: str) -> Claims:
    from portal.db import SERVICE

    return Claims.user(backend.rpc("auth_get_login", {"p_username": username}, as_user=SERVICE)["id"])


# --- one list of groups, the database's -------------------------------------------------------------


def test_the_python_groups_are_exactly_the_ones_the_database_accepts(backend, embedded_db, new_user):
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        check = conn.execute(
            "select pg_get_constraintdef(oid) from pg_constraint where conname = 'email_preferences_groups'"
        ).fetchone()[0]
        # Every group a notice can fall into (private.email_group) over every kind and page the portal wrote.
        grouped = {
            g for (g,) in conn.execute("select distinct private.email_group(kind, page) from public.notifications")
        }
    accepted = re.findall(r"'([a-z_]+)'", check)
    assert sorted(accepted) == sorted(EMAIL_GROUPS) == sorted(g.name for g in GROUPS)
    assert len(accepted) == len(GROUPS)
    assert grouped <= set(EMAIL_GROUPS) and grouped, grouped
    # And the save function takes every one of them together (its own list is the same).
    member = Claims.user(new_user("groups")[0])
    saved = save_email_choices(backend, member, muted=[g.name for g in GROUPS], summary=False)
    assert sorted(saved["muted"]) == sorted(EMAIL_GROUPS)
    with pytest.raises(APIError, match="Choose among"):
        backend.rpc("save_my_email_preferences", {"p_muted": ["newsletter"], "p_summary": False}, as_user=member)


def test_switches_become_muted_groups_and_are_told_back_in_words():
    assert muted_from_switches(
        {"sessions": True, "requests": False, "plans": True, "attendance": False, "account": True}
    ) == ["requests", "attendance"]
    assert muted_from_switches({}) == []  # a switch not drawn yet stays on
    assert choices_in_words({"muted": ["requests", "attendance", "account"], "summary": True}) == (
        "You get emails about sessions and termination plans, together in one summary at 07:00 your time."
    )
    assert choices_in_words({"muted": [], "summary": False}).endswith("as single emails when they happen.")
    assert choices_in_words({"muted": [g.name for g in GROUPS], "summary": False}).startswith("You get no emails")


# --- My profile ---------------------------------------------------------------------------------------


def open_profile(username: str):
    at = app(username).run()
    return at.switch_page(PAGES["profile"]).run()


def toggle(at, key: str):
    return next(t for t in at.toggle if t.key == key)


def test_my_profile_saves_email_choices_and_shows_them_again(backend):
    username = make_account(backend)
    member = user_claims(backend, username)
    at = open_profile(username)
    no_exceptions(at)
    assert "Emails" in texts(at, "header")
    assert any("Nothing is emailed to an address until it is verified" in c for c in texts(at, "caption"))
    for group in GROUPS:  # one switch per group, on by default, its contents in words
        assert toggle(at, f"email_group_{group.name}").value is True
        assert group.contains in texts(at, "caption")
    assert toggle(at, "email_summary").value is False

    toggle(at, "email_group_requests").set_value(False)
    toggle(at, "email_group_attendance").set_value(False)
    toggle(at, "email_summary").set_value(True)
    next(b for b in at.button if b.key == "email_choices_save").click()
    at.run()
    no_exceptions(at)
    assert texts(at, "success") == [
        "Email choices saved. You get emails about sessions, termination plans and accounts of people you work "
        "with, together in one summary at 07:00 your time."
    ]
    assert my_email_choices(backend, member) == {"muted": ["attendance", "requests"], "summary": True}

    again = open_profile(username)  # a new session reads them back from the database
    assert toggle(again, "email_group_requests").value is False
    assert toggle(again, "email_group_sessions").value is True
    assert toggle(again, "email_summary").value is True


def test_saving_email_choices_leaves_the_profile_form_alone(backend):
    """The switches are their own form: saving them neither saves the profile nor draws its form afresh (the
    browser keeps what was typed in a form whose widgets keep their keys; AppTest does not model that, so the
    keys are what is checked), and the profile form's values are still the saved ones."""
    username = make_account(backend)
    at = open_profile(username)
    before = sorted(w.key for w in at.text_input)
    version = at.session_state["profile_version"]
    toggle(at, "email_group_sessions").set_value(False)
    next(b for b in at.button if b.key == "email_choices_save").click()
    at.run()
    assert any(s.startswith("Email choices saved.") for s in texts(at, "success"))
    assert sorted(w.key for w in at.text_input) == before
    assert at.session_state["profile_version"] == version  # the profile was not saved with them


# --- the local mailbox, without Streamlit --------------------------------------------------------------


def write_eml(folder: Path, name: str, *, to: str, subject: str, text: str, mtime: float) -> None:
    message = EmailMessage()
    message["To"], message["Subject"], message["From"] = to, subject, "Portal <no-reply@portal.test>"
    message.set_content(text)
    message.add_alternative(f"<p>{text}</p>", subtype="html")
    path = folder / name
    path.write_bytes(bytes(message))
    os.utime(path, (mtime, mtime))


def test_the_mailbox_lists_newest_first_and_reads_a_message_with_its_links(tmp_path: Path):
    assert list_messages(tmp_path / "none yet") == []
    write_eml(
        tmp_path,
        "00000001-booked.eml",
        to="a@clinic.org",
        subject="Session proposed",
        mtime=1_000,
        text="Dear A,\n\nOpen Appointments: http://localhost:8501/appointments\n",
    )
    write_eml(
        tmp_path,
        "00000002-verify.eml",
        to="b@clinic.org",
        subject="Finish creating your account",
        mtime=2_000,
        text="Confirm your address: http://localhost:8501/verify_email?token=abc_DEF-123.\n"
        "Not you? Ignore this (nothing happens).\n",
    )
    (tmp_path / "notes.txt").write_text("not the portal's")
    listed = list_messages(tmp_path)
    assert [(m.name, m.to, m.subject) for m in listed] == [
        ("00000002-verify.eml", "b@clinic.org", "Finish creating your account"),
        ("00000001-booked.eml", "a@clinic.org", "Session proposed"),
    ]
    assert listed[0].written_at == datetime.fromtimestamp(2_000, UTC)

    body = read_text(tmp_path, "00000002-verify.eml")
    assert body.startswith("Confirm your address: http://localhost:8501/verify_email?token=abc_DEF-123.")
    assert links(body) == ["http://localhost:8501/verify_email?token=abc_DEF-123"]  # the full stop is not the link's

    for outside in ("../x.eml", "/etc/passwd", "notes.txt", "missing.eml"):
        with pytest.raises(FileNotFoundError):
            read_text(tmp_path, outside)


def test_the_senders_own_messages_are_listed_and_read(backend, embedded_db, tmp_path: Path):
    consultant, client, consultant_address, _ = pair(backend, embedded_db)
    session = book(backend, client, consultant.sub, open_times(backend, client, consultant, 1)[0])
    mailer = Mailer(backend, MailSettings(mailbox_dir=tmp_path, base_url="http://localhost:8501"))
    while sum(mailer.run_once(limit=100).values()):
        pass
    [mine] = [m for m in list_messages(tmp_path) if m.to == consultant_address and m.name.endswith("-booked.eml")]
    assert mine.subject.startswith("Session proposed")
    body = read_text(tmp_path, mine.name)
    assert f"http://localhost:8501/appointments?session={session['id']}" in links(body)  # the session itself
    assert email.message_from_bytes((tmp_path / mine.name).read_bytes())["To"] == consultant_address


# --- the admin's Outbox tab -------------------------------------------------------------------------------


def test_outbox_statuses_say_where_each_row_stands():
    row = {"summary": False, "last_error": None, "delivered_to": None}
    assert outbox_status({**row, "status": "queued"}) == "Queued"
    assert outbox_status({**row, "status": "queued", "summary": True}) == "Queued for the morning summary"
    assert outbox_status({**row, "status": "queued", "last_error": "The mail server could not be reached: x"}) == (
        "Queued to try again: The mail server could not be reached: x"
    )
    assert outbox_status({**row, "status": "held", "last_error": "The address is not verified yet."}) == (
        "Held: The address is not verified yet."
    )
    assert outbox_status({**row, "status": "failed", "last_error": "550 no such user"}) == "Failed: 550 no such user"
    assert outbox_status({**row, "status": "sent", "delivered_to": "mailbox:00000007-booked.eml"}) == (
        "Sent to the local mailbox (00000007-booked.eml)"
    )
    assert outbox_status({**row, "status": "sent", "delivered_to": "a@clinic.org"}) == "Sent"


def test_admin_outbox_rows_say_why_and_when_next(backend, embedded_db):
    consultant, client, _, _ = pair(backend, embedded_db, verified=False)
    book(backend, client, consultant.sub, open_times(backend, client, consultant, 1)[0])
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        conn.execute(
            "update private.outbox set status = 'failed', attempts = 8, last_error = '550 no such user' "
            "where recipient_id = %s and kind = 'booked'",
            (consultant.sub,),
        )
    rows = [
        r
        for r in backend.rpc("admin_outbox", {"p_limit": 500}, as_user=demo_claims("admin"))
        if r["kind"] == "booked" and r["status"] == "failed" and r["last_error"] == "550 no such user"
    ]
    assert rows and rows[0]["attempts"] == 8 and rows[0]["next_attempt_at"]


def test_the_admin_sees_delivery_status_never_a_body_or_a_link(backend, embedded_db):
    """Issue 23, item 3: an admin who asks a reset for a member must not be able to open its link."""
    consultant, client, consultant_address, _ = pair(backend, embedded_db)
    book(backend, client, consultant.sub, open_times(backend, client, consultant, 1)[0])
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        username = conn.execute("select username from private.credentials where user_id = %s", (consultant.sub,))
        username = username.fetchone()[0]
    backend.rpc("auth_request_password_reset", {"p_identifier": username}, as_user=SERVICE)
    mailbox = Path(os.environ["PORTAL_DATA_DIR"]) / "mailbox"  # where local mode's sender writes
    mailer = Mailer(backend, MailSettings(mailbox_dir=mailbox, base_url="http://localhost:8501"))
    while sum(mailer.run_once(limit=100).values()):
        pass
    [reset] = [
        m for m in list_messages(mailbox) if m.to == consultant_address and m.name.endswith("-account-reset.eml")
    ]
    [reset_link] = [u for u in links(read_text(mailbox, reset.name)) if "token=" in u]
    token = reset_link.split("token=")[1]

    at = app("admin").run()
    at.switch_page(PAGES["admin"]).run()
    no_exceptions(at)
    outbox = next(t for t in at.tabs if t.label == "Outbox")
    frame = outbox.dataframe[0].value
    assert list(frame.columns) == ["Status", "Kind", "To", "Written", "What", "Attempts", "Next try"]
    assert any(status.startswith("Sent to the local mailbox") for status in frame["Status"])
    assert any("No mail server is set up" in c for c in texts(at, "caption"))
    assert not [s for s in outbox.selectbox if s.key == "outbox_message"]  # no message to choose, none to read
    everything = (
        " ".join(
            str(e.value)
            for kind in ("markdown", "caption", "text", "code", "info", "success")
            for e in getattr(at, kind)
        )
        + frame.to_string()
    )
    assert token not in everything and "token=" not in everything
    assert "Local mailbox" not in texts(at, "header")


def test_the_mailbox_is_the_owners_alone(backend, embedded_db, tmp_path: Path):
    consultant, client, _, _ = pair(backend, embedded_db)
    book(backend, client, consultant.sub, open_times(backend, client, consultant, 1)[0])
    mailbox = tmp_path / "mailbox"
    mailbox.mkdir(mode=0o755)
    mailer = Mailer(backend, MailSettings(mailbox_dir=mailbox))
    while sum(mailer.run_once(limit=100).values()):
        pass
    written = list(mailbox.glob("*.eml"))
    assert written
    assert stat.S_IMODE(mailbox.stat().st_mode) == 0o700
    assert {stat.S_IMODE(p.stat().st_mode) for p in written} == {0o600}


def test_members_and_strangers_see_no_outbox(backend):
    member = app("seeker02").run()
    member.switch_page(PAGES["admin"]).run()
    no_exceptions(member)
    assert "Outbox" not in [t.label for t in member.tabs] and not member.dataframe
    assert any("administrator" in text.lower() for text in texts(member, "warning") + texts(member, "error"))

    stranger = app().run()  # signed out: the page is not even routed
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        stranger.switch_page(PAGES["admin"])

    for caller in (demo_claims("seeker02"), Claims.user(str(uuid.uuid4()))):  # a member; a token of nobody
        with pytest.raises(APIError):
            backend.rpc("admin_outbox", {"p_limit": 10}, as_user=caller)
