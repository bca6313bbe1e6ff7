"""An outbox row as an email: subject, plain text, simple HTML, and for a session a calendar invitation.

The notice's own sentence (written by the database in the recipient's zone, naming who and when) is
the body; the email adds where to act. A session's invitation is built with icalendar: METHOD REQUEST
or CANCEL, a UID stable across moves (the first booking's id), the SEQUENCE the recipient's calendar
has seen, DTSTART/DTEND in UTC and the consultant's zone named, so Google Calendar, Outlook and Apple
Calendar add, move and remove one event.

Members' words (names above all) are data, never markup: the HTML part escapes everything it shows, the
invitation's values go through icalendar (which escapes , ; \\ and line breaks, and quotes parameters), and a
name is one line (`one_line`) in every part, so a name cannot start a line of its own in a text body.
"""

from __future__ import annotations

import html
import re
import unicodedata
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

from icalendar import Calendar, Event, vCalAddress, vText

from portal.local_times import clock_in_words, in_zone, zone_words

PORTAL_NAME = "Peer Consultation Portal"
UID_DOMAIN = "peer-consultation-portal"

# What each email's subject says happened, and to which session or plan: {with} is " with <the other party>" and
# {on} is ": <the session's day and time in the recipient's zone>" when the email knows them, else nothing. A kind
# missing here takes its notice's first sentence as the subject, never a generic one.
SUBJECTS = {
    "request": "New consultation request",
    "accepted": "Your consultation request was accepted",
    "booked": "Session proposed{with}{on}",
    "confirmed": "Session confirmed{with}{on}",
    "cancelled": "Session cancelled{with}{on}",
    "late_cancellation": "Late cancellation{with}{on}",
    "rescheduled": "Session moved{with}{on}",
    "plan_proposed": "Termination plan{with} proposed: it awaits your signature",
    "plan_changed": "Termination plan{with} changed: it awaits your signature",
    "plan_agreed": "Termination plan{with} agreed",
    "plan_completed": "Termination plan{with} completed",
    "plan_withdrawn": "Termination plan{with} withdrawn",
    "plan_safety": "Termination plan{with}: treatment ends early for safety reasons",
    "plan_awaiting": "Termination plan{with} awaits your signature",
    "plan_awaiting_2_days": "Termination plan{with} has waited 2 days for your signature",
    "session_tomorrow": "Reminder: session{with}{on}",
    "final_session_soon": "Your final session{with} is coming up",
    "follow_up_due": "Follow-up check-in due: termination plan{with}",
    "attendance_recorded": "Attendance recorded for your session{with}{on}",
    "attendance_disputed": "Attendance disputed for your session{with}{on}",
    "attendance_resolved": "An administrator decided the attendance of your session{with}{on}",
    "licence_gap": "A licence no longer covers where a client lives",
    "calendar_unread": "Your calendar could not be read",
    "account_closed": "An account you work with was closed",
}
# A declined answer is about a request or about a proposed session, by its page.
DECLINED_SUBJECTS = {
    "requests": "Your consultation request was declined",
    "appointments": "Proposed session declined{with}{on}",
}
PAGE_TITLES = {
    "appointments": "Appointments",
    "requests": "Requests",
    "termination": "Termination plans",
    "notifications": "Notifications",
    "availability": "My availability",
}

# --- the waitlist (issue 26, item 13): room opened at a consultant the member waits for. The notice's page is the
# consultant's own address (consultant?id=<id>), so the link opens their profile.
ROOM_OPENED = "room_opened"
SUBJECTS[ROOM_OPENED] = "A consultant you are waiting for has room for a new client"


def one_line(text: str | None) -> str:
    """A member's word as one line: line breaks, tabs and other control characters become single spaces."""
    return " ".join("".join(" " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c for c in text or "").split())


def session_time(row: dict[str, Any]) -> str | None:
    """The session's day and time in the recipient's zone ('Tue 8 Dec, 16:00 New York time'), when the row has one."""
    if not (row.get("starts_at") and row.get("recipient_timezone")):
        return None
    local = in_zone(row["starts_at"], row["recipient_timezone"])
    return f"{local:%a} {local.day} {local:%b}, {clock_in_words(row['starts_at'], row['recipient_timezone'])}"


def subject(row: dict[str, Any]) -> str:
    kind = row["kind"]
    template = DECLINED_SUBJECTS.get(row.get("page") or "") if kind == "declined" else SUBJECTS.get(kind)
    if template is None:
        return first_sentence(row.get("message"))
    other, when = one_line(row.get("other_name")), session_time(row)
    return template.format(**{"with": f" with {other}" if other else "", "on": f": {when}" if when else ""})


_SENTENCE_END = re.compile(r"[.!?](?=\s)")
_TITLES = ("Dr", "Mr", "Mrs", "Ms", "Mx", "Prof", "St")  # "Dr. Ames": a full stop that ends no sentence


def first_sentence(text: str | None, limit: int = 120) -> str:
    """A notice's first sentence, as the subject of a kind this module has no words for."""
    line = one_line(text)
    ends = (m.start() for m in _SENTENCE_END.finditer(line) if not line[: m.start()].endswith(_TITLES))
    sentence = line[: next(ends, len(line))].rstrip(".")
    return sentence if len(sentence) <= limit else sentence[: limit - 1].rstrip() + "…"


def item_link(row: dict[str, Any], base_url: str) -> str:
    """The page the notice is about, and the plan or session itself when it names one (termination?plan=<id>,
    appointments?session=<id>)."""
    base = base_url.rstrip("/")
    if not row.get("page"):
        return base_url
    if row["page"] == "termination" and row.get("plan_id"):
        return f"{base}/termination?plan={row['plan_id']}"
    if row["page"] == "appointments" and row.get("appointment_id"):
        return f"{base}/appointments?session={row['appointment_id']}"
    return f"{base}/{row['page']}"


def link_words(row: dict[str, Any]) -> str:
    """What the email's link opens, in words: the plan or the session itself, else the page."""
    if row.get("plan_id") and row.get("page") == "termination":
        return "the plan"
    if row.get("appointment_id") and row.get("page") == "appointments":
        return "the session"
    if row.get("kind") == ROOM_OPENED:
        return "their profile"
    return PAGE_TITLES.get(row.get("page") or "", "the portal")


def build_message(row: dict[str, Any], *, sender: str, base_url: str) -> EmailMessage:
    """The email for one claimed outbox row (outbox_claim's columns)."""
    link = item_link(row, base_url)
    where = link_words(row)
    greeting = f"Dear {one_line(row['recipient_name'])},"
    text = (
        f"{greeting}\n\n{row['message']}\n\nOpen {where}: {link}\n\n"
        f"— {PORTAL_NAME}. You receive this because it concerns your work on the portal.\n"
    )
    message = EmailMessage()
    message["Subject"] = subject(row)
    message["From"] = sender
    message["To"] = row["recipient_email"]
    message["Message-ID"] = f"<outbox-{row['id']}@{UID_DOMAIN}>"
    message.set_content(text)
    message.add_alternative(
        f"<p>{html.escape(greeting)}</p><p>{html.escape(row['message'])}</p>"
        f'<p><a href="{html.escape(link, quote=True)}">Open {html.escape(where)}</a></p>'
        f'<p style="color:#555">{PORTAL_NAME}. You receive this because it concerns your work on the portal.</p>',
        subtype="html",
    )
    if row.get("ics_method") and row.get("starts_at"):
        # As calendars recognise a meeting: a text/calendar alternative carrying the METHOD, and the same file
        # attached for clients that only offer attachments.
        invitation = calendar_invitation(row, organiser=sender)
        method = {"method": row["ics_method"]}
        message.add_alternative(invitation, maintype="text", subtype="calendar", params=method)
        message.add_attachment(invitation, maintype="text", subtype="calendar", filename="invite.ics", params=method)
    return message


def build_summary(rows: list[dict[str, Any]], *, sender: str, base_url: str) -> EmailMessage:
    """One quiet email for a member who chose a daily summary: every notice due, oldest first, with the
    sessions' calendar invitations attached."""
    first = rows[0]
    count = len(rows)
    greeting = f"Dear {one_line(first['recipient_name'])},"
    lines = [f"- {row['message']}\n  {item_link(row, base_url)}" for row in rows]
    text = (
        f"{greeting}\n\nSince the last summary:\n\n"
        + "\n".join(lines)
        + f"\n\nOpen the portal: {base_url}\n\n— {PORTAL_NAME}. You chose one summary a day on My profile.\n"
    )
    message = EmailMessage()
    message["Subject"] = f"Your portal summary: {count} {'notice' if count == 1 else 'notices'}"
    message["From"] = sender
    message["To"] = first["recipient_email"]
    message["Message-ID"] = f"<summary-{first['id']}-{rows[-1]['id']}@{UID_DOMAIN}>"
    message.set_content(text)
    items = "".join(
        f"<li>{html.escape(row['message'])} "
        f'<a href="{html.escape(item_link(row, base_url), quote=True)}">Open {html.escape(link_words(row))}</a></li>'
        for row in rows
    )
    message.add_alternative(
        f"<p>{html.escape(greeting)}</p><p>Since the last summary:</p><ul>{items}</ul>"
        f'<p><a href="{html.escape(base_url, quote=True)}">Open the portal</a></p>',
        subtype="html",
    )
    for row in rows:
        if row.get("ics_method") and row.get("starts_at"):
            message.add_attachment(
                calendar_invitation(row, organiser=sender),
                maintype="text",
                subtype="calendar",
                filename=f"invite-{row['id']}.ics",
                params={"method": row["ics_method"]},
            )
    return message


def calendar_invitation(row: dict[str, Any], *, organiser: str) -> bytes:
    method = row["ics_method"]
    cal = Calendar()
    cal.add("prodid", f"-//{PORTAL_NAME}//invitations//EN")
    cal.add("version", "2.0")
    cal.add("method", method)
    event = Event()
    event.add("uid", f"{row['series_id']}@{UID_DOMAIN}")
    event.add("sequence", int(row.get("ics_sequence") or 0))
    event.add("dtstamp", datetime.now(UTC))
    event.add("dtstart", _utc(row["starts_at"]))
    event.add("dtend", _utc(row["ends_at"]))
    event.add("summary", f"Session with {one_line(row.get('other_name')) or 'a colleague'}")
    zone = row.get("consultant_timezone")
    if zone:
        local = in_zone(row["starts_at"], zone)
        event.add(
            "description",
            f"{local:%a} {local.day} {local:%b} {local:%H:%M} {zone_words(zone)} ({zone}), the consultant's zone.",
        )
    status = "CANCELLED" if method == "CANCEL" else "CONFIRMED" if row["kind"] == "confirmed" else "TENTATIVE"
    event.add("status", status)
    if row.get("session_location"):
        event.add("location", row["session_location"])
    # The consultant organises, at an address the portal controls; both parties attend. The other party is
    # named, never addressed: a colleague's login email is theirs alone.
    portal_address = _address(organiser)
    organizer = vCalAddress(f"mailto:{portal_address}")
    organizer.params["cn"] = vText(one_line(row.get("consultant_name") or PORTAL_NAME))
    event.add("organizer", organizer)
    attendee = vCalAddress(f"mailto:{row['recipient_email']}")
    attendee.params["cn"] = vText(one_line(row["recipient_name"]))
    attendee.params["role"] = vText("REQ-PARTICIPANT")
    attendee.params["partstat"] = vText("ACCEPTED" if status == "CONFIRMED" else "NEEDS-ACTION")
    attendee.params["rsvp"] = vText("FALSE")
    event.add("attendee", attendee)
    if row.get("other_name"):
        mailbox, _, domain = portal_address.partition("@")
        other = vCalAddress(f"mailto:{mailbox}+{row['series_id']}@{domain}")
        other.params["cn"] = vText(one_line(row["other_name"]))
        other.params["role"] = vText("REQ-PARTICIPANT")
        event.add("attendee", other)
    cal.add_component(event)
    return cal.to_ical()


def _utc(value: str | datetime) -> datetime:
    instant = datetime.fromisoformat(value) if isinstance(value, str) else value
    return instant.astimezone(UTC)


def _address(sender: str) -> str:
    """'Portal <no-reply@x.org>' -> 'no-reply@x.org'."""
    return sender.rsplit("<", 1)[-1].rstrip(">").strip()


# --- account messages: verification, "someone tried to register", password reset -------------------------


def build_link_message(row: dict[str, Any], *, token: str | None, sender: str, base_url: str) -> EmailMessage:
    """One claimed account_links row (account_links_claim's columns) as an email; `token` is the link's plaintext,
    minted by the sender for this message (never stored)."""
    from portal.account_links import RESET_MINUTES, VERIFY_HOURS, link_url

    base = base_url.rstrip("/")
    kind = row["kind"]
    name = one_line(row.get("recipient_name")) or "colleague"
    sign_in, forgot = f"{base}/sign-in", f"{base}/forgot-password"
    if kind == "registration":
        title = "Confirm your email to finish creating your account"
        link = link_url(base, kind, token or "")
        paragraphs = [
            f"You asked to create the account “{row.get('username')}” on the {PORTAL_NAME} with this "
            "address. Open this link to confirm that the address is yours; your account is created then:",
            f"The link works once, for {VERIFY_HOURS} hours. If you did not ask for an account, ignore "
            "this message: nothing is created without the link.",
        ]
        action = ("Confirm my email and create my account", link)
        extra: list[tuple[str, str]] = []
    elif kind == "verify_email":
        title = "Confirm your email address"
        link = link_url(base, kind, token or "")
        paragraphs = [
            f"You asked to verify this address for your account “{row.get('username')}”. Open this link to "
            "confirm it; until then the portal sends it nothing but this message:",
            f"The link works once, for {VERIFY_HOURS} hours.",
        ]
        action = ("Verify my email", link)
        extra = []
    elif kind == "reset":
        title = "Choose a new password"
        link = link_url(base, kind, token or "")
        paragraphs = [
            f"Someone (we hope you) asked to reset the password of your account “{row.get('username')}”. "
            "Open this link to choose a new one:",
            f"The link works once, for {RESET_MINUTES} minutes; choosing a new password signs you out on "
            "every device. If you did not ask, ignore this message: your password stays as it is.",
        ]
        action = ("Choose a new password", link)
        extra = []
    else:  # already_registered: no token, two plain links
        title = "Someone tried to register with your email"
        paragraphs = [
            f"Someone tried to create a new account on the {PORTAL_NAME} with this address, which "
            f"already belongs to your account “{row.get('username')}”. No new account was created. "
            "If it was you, sign in instead:",
            "Forgot your password? Ask for a reset link here:",
            "If it was not you, you need do nothing: the portal never says to anyone whether an address has "
            "an account.",
        ]
        action = ("Sign in", sign_in)
        extra = [("Reset my password", forgot)]
    greeting = f"Dear {name},"
    text_lines = [greeting, "", paragraphs[0], action[1], ""]
    if extra:
        text_lines += [paragraphs[1], extra[0][1], "", paragraphs[2]]
    else:
        text_lines += [paragraphs[1]]
    text_lines += ["", f"— {PORTAL_NAME}"]
    message = EmailMessage()
    message["Subject"] = title
    message["From"] = sender
    message["To"] = row["email"]
    message["Message-ID"] = f"<account-{row['id']}-{row.get('attempts') or 0}@{UID_DOMAIN}>"
    message.set_content("\n".join(text_lines) + "\n")

    def anchor(label: str, href: str) -> str:
        return f'<p><a href="{html.escape(href, quote=True)}">{html.escape(label)}</a><br>{html.escape(href)}</p>'

    body = [f"<p>{html.escape(greeting)}</p>", f"<p>{html.escape(paragraphs[0])}</p>", anchor(*action)]
    if extra:
        body += [f"<p>{html.escape(paragraphs[1])}</p>", anchor(*extra[0]), f"<p>{html.escape(paragraphs[2])}</p>"]
    else:
        body.append(f"<p>{html.escape(paragraphs[1])}</p>")
    body.append(f'<p style="color:#555">{PORTAL_NAME}</p>')
    message.add_alternative("".join(body), subtype="html")
    return message
