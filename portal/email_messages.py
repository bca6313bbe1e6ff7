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
import unicodedata
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

from icalendar import Calendar, Event, vCalAddress, vText

from portal.local_times import clock_in_words, in_zone, zone_words

PORTAL_NAME = "Peer Consultation Portal"
UID_DOMAIN = "peer-consultation-portal"

SUBJECTS = {
    "request": "New consultation request",
    "accepted": "Your consultation request was accepted",
    "booked": "Session proposed",
    "confirmed": "Session confirmed",
    "declined": "Declined",
    "cancelled": "Session cancelled",
    "late_cancellation": "Late cancellation",
    "rescheduled": "Session moved",
    "plan_proposed": "A termination plan awaits your signature",
    "plan_changed": "A termination plan was changed and awaits your signature",
    "plan_agreed": "Termination plan agreed",
    "plan_completed": "Termination plan completed",
    "plan_withdrawn": "Termination plan withdrawn",
    "plan_awaiting_2_days": "A termination plan has waited 2 days for your signature",
    "session_tomorrow": "Session reminder",
    "final_session_soon": "Your final session is coming up",
    "account_closed": "An account you work with was closed",
}
PAGE_TITLES = {
    "appointments": "Appointments",
    "requests": "Requests",
    "termination": "Termination plans",
    "notifications": "Notifications",
}

# --- the waitlist (issue 26, item 13): room opened at a consultant the member waits for. The notice's page is the
# consultant's own address (consultant?id=<id>), so the link opens their profile.
ROOM_OPENED = "room_opened"
SUBJECTS[ROOM_OPENED] = "A consultant you are waiting for has room for a new client"


def one_line(text: str | None) -> str:
    """A member's word as one line: line breaks, tabs and other control characters become single spaces."""
    return " ".join("".join(" " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c for c in text or "").split())


def subject(row: dict[str, Any]) -> str:
    kind = row["kind"]
    if kind == "declined" and row.get("page") == "requests":
        base = "Your consultation request was declined"
    elif kind == "declined":
        base = "Proposed session declined"
    else:
        base = SUBJECTS.get(kind, "News from the portal")
    if row.get("starts_at") and row.get("recipient_timezone"):
        local = in_zone(row["starts_at"], row["recipient_timezone"])
        base += f": {local:%a} {local.day} {local:%b}, {clock_in_words(row['starts_at'], row['recipient_timezone'])}"
    return base


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


def build_message(row: dict[str, Any], *, sender: str, base_url: str) -> EmailMessage:
    """The email for one claimed outbox row (outbox_claim's columns)."""
    link = item_link(row, base_url)
    where = (
        "the plan"
        if row.get("plan_id") and row.get("page") == "termination"
        else PAGE_TITLES.get(row.get("page") or "", "the portal")
    )
    if row["kind"] == ROOM_OPENED:
        where = "their profile"
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
    lines = [f"- {row['message']}" for row in rows]
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
    items = "".join(f"<li>{html.escape(row['message'])}</li>" for row in rows)
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
        local, _, domain = portal_address.partition("@")
        other = vCalAddress(f"mailto:{local}+{row['series_id']}@{domain}")
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
        extra = []
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
