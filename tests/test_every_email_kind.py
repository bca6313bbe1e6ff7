"""Every email says what happened and to which session or plan, links to it, and reads as sentences (#26.9,
#26.11): attendance emails were "News from the portal" linking to /appointments; a member's full stop before the
portal's own made "afternoon.." and "review.).".

The kinds are read from the database itself: every notice kind its functions write (private.notify and inserts
into public.notifications), with the page each goes to."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
from psycopg.rows import dict_row

from portal.appointments import answer, book, record_attendance, reschedule
from portal.db import SERVICE, Claims
from portal.email_messages import DECLINED_SUBJECTS, SUBJECTS, build_message, build_summary, item_link, subject
from tests.mail_support import NEW_YORK, open_times, pair

BASE = "https://portal.example"
SENDER = "Peer Consultation Portal <no-reply@portal.example>"
GENERIC = {"News from the portal", "Notification", "Update", ""}
# Doubled punctuation: two full stops (an ellipsis is three), a stop before ")." and after "?" or "!".
DOUBLED = re.compile(r"(?<!\.)\.\.(?!\.)|\.\)[.,;:]|[!?]\.")
# A kind passed as an expression, not a literal, and the kinds it takes (notify_request_events: the request's new
# status when it is answered).
EXPRESSIONS = {"new.status": {"accepted", "declined"}}
# private.notify's own insert passes its caller's kind on: its callers are read instead.
PASSED_ON = "p_kind"
SESSION = str(uuid.uuid4())
PLAN = str(uuid.uuid4())


def top_level_arguments(text: str, start: int) -> list[str]:
    """The comma-separated arguments of the call or tuple whose "(" ends just before `start`."""
    arguments, depth, quoted, current = [], 0, False, []
    for char in text[start:]:
        if char == "'":
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            if depth == 0:
                break
            depth -= 1
        elif not quoted and char == "," and depth == 0:
            arguments.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    return [*arguments, "".join(current).strip()]


def kinds_of(argument: str) -> set[str]:
    found = set(re.findall(r"'([a-z_0-9]+)'", argument))
    return found or EXPRESSIONS[argument.strip()]


def page_of(argument: str) -> str:
    [page] = re.findall(r"'([a-z_]+)'", argument) or [argument]
    return page


def written_kinds(conninfo: str) -> set[tuple[str, str]]:
    """(kind, page) of every notice the database's functions write, read from their current definitions."""
    with psycopg.connect(conninfo) as conn:
        sources = [
            row[0]
            for row in conn.execute(
                "select p.prosrc from pg_proc p join pg_namespace n on n.oid = p.pronamespace "
                "where n.nspname in ('public', 'private')"
            )
        ]
    written = set()
    for source in sources:
        for call in re.finditer(r"private\.notify\(", source):
            arguments = top_level_arguments(source, call.end())
            written |= {(kind, page_of(arguments[3])) for kind in kinds_of(arguments[1])}
        for insert in re.finditer(r"insert into public\.notifications\s*\(([^)]*)\)\s*values\s*", source):
            columns = [c.strip() for c in insert.group(1).split(",")]
            position = insert.end()
            while source[position] == "(":
                values = top_level_arguments(source, position + 1)
                if values[columns.index("kind")] != PASSED_ON:
                    page = page_of(values[columns.index("page")])
                    written |= {(kind, page) for kind in kinds_of(values[columns.index("kind")])}
                close = source.index(values[-1], position) + len(values[-1])
                position = close + source[close:].index(")") + 1
                following = re.match(r"\s*,\s*", source[position:])
                if not following:
                    break
                position += following.end()
    return written


def sample_row(kind: str, page: str) -> dict:
    """An outbox row as outbox_claim returns it, for a notice of `kind` about a session, a plan or a page."""
    row = {
        "id": 7,
        "kind": kind,
        "page": page,
        "message": "Dana Reyes did what this notice says.",
        "recipient_name": "Casey Tester",
        "recipient_email": "casey@clinic.org",
        "recipient_timezone": "Europe/London",
        "other_name": None,
    }
    if page == "appointments":
        row |= {"appointment_id": SESSION, "starts_at": "2027-01-15T15:00:00+00:00", "other_name": "Dana Reyes"}
    if page == "termination":
        row |= {"plan_id": PLAN, "other_name": "Dana Reyes"}
    return row


def plain_text(message) -> str:
    return message.get_body(("plain",)).get_content()


def test_every_kind_the_database_writes_says_what_happened_and_links_to_it(embedded_db):
    written = written_kinds(embedded_db.owner_conninfo)
    assert {("attendance_disputed", "appointments"), ("request", "requests"), ("plan_agreed", "termination")} <= written
    assert {("accepted", "requests"), ("declined", "requests"), ("declined", "appointments")} <= written
    for kind, page in sorted(written):
        row = sample_row(kind, page)
        message = build_message(row, sender=SENDER, base_url=BASE)
        said, body = str(message["Subject"]), plain_text(message)
        assert kind in SUBJECTS or page in DECLINED_SUBJECTS, f"{kind} has no subject of its own"
        assert said not in GENERIC, (kind, said)
        assert not DOUBLED.search(said) and not DOUBLED.search(body), (kind, said, body)
        link = item_link(row, BASE)
        assert link.rstrip("/") != BASE and f": {link}" in body, (kind, body)
        if page == "appointments":
            # The session: its day and time in the recipient's zone, the other party, and its own address.
            assert "Fri 15 Jan, 15:00 London time" in said and "Dana Reyes" in said, (kind, said)
            assert link == f"{BASE}/appointments?session={SESSION}"
        if page == "termination":
            assert "Dana Reyes" in said and link == f"{BASE}/termination?plan={PLAN}", (kind, said)


def test_a_kind_without_words_takes_its_notices_first_sentence():
    row = sample_row("waitlist_room", "find") | {"message": "Dr. Ames has room for a new client. Ask them now."}
    assert subject(row) == "Dr. Ames has room for a new client"


def test_the_summary_links_to_each_item():
    rows = [sample_row("attendance_recorded", "appointments"), sample_row("plan_agreed", "termination")]
    body = plain_text(build_summary(rows, sender=SENDER, base_url=BASE))
    assert f"{BASE}/appointments?session={SESSION}" in body and f"{BASE}/termination?plan={PLAN}" in body


def claimed_for(embedded_db, recipient: str) -> list[dict]:
    """The sender's claim of this recipient's rows, in a transaction rolled back (other tests' rows stay queued)."""
    with psycopg.connect(embedded_db.owner_conninfo, row_factory=dict_row) as conn:
        rows = conn.execute("select * from public.outbox_claim(500) where recipient_id = %s", (recipient,)).fetchall()
        conn.rollback()
    return rows


def past_session(conninfo: str, consultant: Claims, client: Claims) -> str:
    starts = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=1)
    with psycopg.connect(conninfo) as conn:
        return str(
            conn.execute(
                "insert into public.appointments (consultant_id, client_id, engagement_id, starts_at, ends_at, "
                "blocked_until, status, requested_by) select %s, %s, e.id, %s, %s, %s, 'confirmed', %s "
                "from public.engagements e where e.consultant_id = %s and e.seeker_id = %s returning id",
                (consultant.sub, client.sub, starts, starts + timedelta(minutes=50), starts + timedelta(hours=1))
                + (client.sub, consultant.sub, client.sub),
            ).fetchone()[0]
        )


def display_name(backend, who: Claims) -> str:
    return backend.rpc("get_my_profile", {}, as_user=who)["display_name"]


def test_an_attendance_email_names_the_session_and_opens_it(backend, embedded_db):
    consultant, client, _, _ = pair(backend, embedded_db)
    session = past_session(embedded_db.owner_conninfo, consultant, client)
    record_attendance(backend, client, session, "held")
    [row] = [r for r in claimed_for(embedded_db, consultant.sub) if r["kind"] == "attendance_recorded"]
    message = build_message(row, sender=SENDER, base_url=BASE)
    starts = backend.rpc("my_appointments", {}, as_user=consultant)
    starts = next(a["starts_at"] for a in starts if str(a["id"]) == session)
    local = datetime.fromisoformat(str(starts)).astimezone(ZoneInfo(NEW_YORK))
    said = " ".join(str(message["Subject"]).split())
    assert said.startswith(f"Attendance recorded for your session with {display_name(backend, client)}: "), said
    assert said.endswith(f"{local:%H:%M} New York time"), said
    assert f"Open the session: {BASE}/appointments?session={session}" in plain_text(message)


def test_a_members_full_stop_does_not_double_the_portals(backend, embedded_db):
    consultant, client, _, _ = pair(backend, embedded_db)
    first, second = open_times(backend, client, consultant)
    booked = book(backend, client, consultant.sub, first)
    answer(backend, consultant, booked["id"], confirm=True)
    reschedule(backend, client, booked["id"], second, "I'm away that afternoon.", accept_late=True)
    [moved] = [r for r in claimed_for(embedded_db, consultant.sub) if r["kind"] == "rescheduled"]
    assert "afternoon. Confirm" in moved["message"] and not DOUBLED.search(moved["message"]), moved["message"]
    assert not DOUBLED.search(plain_text(build_message(moved, sender=SENDER, base_url=BASE)))

    admin = Claims.user(backend.rpc("auth_get_login", {"p_username": "admin"}, as_user=SERVICE)["id"])
    backend.rpc(
        "admin_close_account",
        {"p_user": client.sub, "p_reason": "The member asked us to, pending review."},
        as_user=admin,
    )
    [closed] = [r for r in claimed_for(embedded_db, consultant.sub) if r["kind"] == "account_closed"]
    assert "pending review). Your open requests" in closed["message"], closed["message"]
    assert not DOUBLED.search(closed["message"])
