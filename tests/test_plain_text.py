"""Other members' text is shown as text: no images, no links, no markup (issue 16, item 11)."""

from __future__ import annotations

import re

from portal.db import SERVICE, Claims
from portal.plain_text import plain
from portal.refusal import Refusal
from portal.requests import request_consultation

TRACKER = "![seen](https://tracker.example/pixel.png?who=you)"
# Markdown constructs that would render as something other than the characters typed.
UNESCAPED = re.compile(r"(?<!\\)(!\[|\]\(|<[a-z/]|https?://|www\.|:[a-z]+\[|\*\*|`)")


def test_plain_leaves_no_image_link_or_markup_to_render():
    for text in (
        TRACKER,
        "[click](javascript:alert(1))",
        "<img src=x onerror=alert(1)>",
        "see www.evil.example",
        "http://bare.example/x",
        ":red[alarm] :material/warning: **loud** `code` $x^2$",
    ):
        escaped = plain(text)
        assert not UNESCAPED.search(escaped), escaped
        # Every character typed is still there, in order (beside invisible word joiners).
        assert escaped.replace("\\", "").replace("\u2060", "") == text.replace("\\", "")
    assert plain("two\nlines") == "two  \nlines" and plain(None) == "" and plain("Zoë O") == "Zoë O"


def test_a_request_message_with_a_tracking_pixel_reaches_the_inbox_as_text(backend, embedded_db):
    from tests.page_support import PAGES, app, no_exceptions
    from tests.people_support import make_account, make_consultant

    consultant_username, consultant_id = make_consultant(backend, embedded_db)
    seeker_id = backend.rpc("auth_get_login", {"p_username": make_account(backend)}, as_user=SERVICE)["id"]
    request_consultation(backend, Claims.user(seeker_id), consultant_id, [], f"Hello {TRACKER} there")
    inbox = app(consultant_username).run()
    inbox.switch_page(PAGES["requests"]).run()
    no_exceptions(inbox)
    shown = [m.value for m in inbox.markdown if "Hello" in m.value]
    assert shown and all(not UNESCAPED.search(m) for m in shown), shown
    assert any(r"\!\[seen\]\(https\:\/\/tracker\.example" in m.replace("\u2060", "") for m in shown)


def test_in_chromium_the_escaped_text_shows_no_image_link_or_markup(tmp_path):
    """What the browser draws, not only the Markdown source: the escaped line has no <img>, <a>, bold or colour."""
    import subprocess
    import sys
    import time
    import urllib.request

    import pytest

    from tests.app_server import REPO, chromium_browser, free_port

    script = tmp_path / "show.py"
    text = f"Hi {TRACKER} [link](http://x.example) www.evil.example mail@me.example :red[alarm] **loud** <b>b</b>"
    script.write_text(
        f"import sys\nsys.path.insert(0, {str(REPO)!r})\nimport streamlit as st\n"
        f"from portal.plain_text import plain\ntext = {text!r}\n"
        "st.markdown('> ' + plain(text))\nst.markdown('raw: ' + text)\n"
    )
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(script),
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(
                    f"http://127.0.0.1:{port}/_stcore/health", timeout=2
                ) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("the Streamlit script never became healthy")
            time.sleep(0.25)
        with chromium_browser() as chromium:
            page = chromium.new_page()
            page.goto(f"http://127.0.0.1:{port}")
            blocks = page.locator('[data-testid="stMarkdownContainer"]')
            blocks.nth(1).wait_for(timeout=45_000)
            escaped, raw = blocks.nth(0), blocks.nth(1)
            counts = {tag: (escaped.locator(tag).count(), raw.locator(tag).count()) for tag in ("img", "a", "strong")}
            # The raw line proves the browser would have drawn them; the escaped one draws none.
            assert [mine for mine, _ in counts.values()] == [0, 0, 0], counts
            assert counts["img"][1] == 1 and counts["a"][1] >= 2 and counts["strong"][1] == 1, counts
            shown = escaped.inner_text().replace("\u2060", "")
            assert TRACKER in shown and ":red[alarm]" in shown and "mail@me.example" in shown
    finally:
        server.terminate()
        server.wait(30)


# --- issue 23, item 2: every member-typed field, everywhere -------------------------------------------------------

PLANTED = "![r](http://host.example/s.png)[Verify licence](http://host.example/ph)"


def test_no_page_or_component_puts_member_text_into_markdown_unescaped():
    from pathlib import Path

    from tests.member_text_lint import unescaped_member_text

    repo = Path(__file__).resolve().parents[1]
    sources = [repo / "app.py", *sorted((repo / "views").glob("*.py")), *sorted((repo / "components").glob("*.py"))]
    problems = [problem for path in sources for problem in unescaped_member_text(path)]
    assert problems == [], "member text in Markdown without plain():\n" + "\n".join(problems)


def test_the_lint_finds_member_text_put_into_markdown(tmp_path):
    from tests.member_text_lint import unescaped_member_text

    page = tmp_path / "page.py"
    page.write_text(
        "import streamlit as st\n"
        "st.markdown(f\"**{row['other_name']}** asks\")\n"  # a key
        "st.title(f'Welcome, {user.display_name}')\n"  # an attribute
        "who = item.get('counterpart_display') or 'someone'\n"
        "st.markdown(f'{who} declared')\n"  # through a variable
        "st.caption(f\"{plain(row['other_name'])} and {REASONS[row['reason']]}\")\n"  # escaped; a constant table
        "names = {e['id']: f\"{e['other_name']}\" for e in rows}  # not markdown: selectbox options\n"
        "st.caption(doc['city'])\n"  # handed over as it is
        "st.button('Open', help=doc.get('organisation'))\n"  # a widget's help is Markdown too
    )
    found = sorted(p.split(": ", 1)[1] for p in unescaped_member_text(page))
    assert found == ["city", "display_name", "organisation", "other_name", "who"]


def test_the_database_refuses_a_name_that_is_markup_on_every_save(backend, embedded_db, new_user):
    import psycopg
    import pytest

    from portal.db import APIError
    from portal.profiles import ProfileInput, load_my_profile, save_my_profile

    user_id, _ = new_user("names")
    me = Claims.user(user_id)
    for good in ("Zoë O’Brien", "李 明", "नमस्ते", "Siobhán Ní Dhuibhir", "Dr. Ana-María de la Cruz"):
        assert backend.rpc("display_name_problem", {"p_name": good}, as_user=me) is None, good
    for bad in (PLANTED, "<img src=x>", "Ann\nVerify at example", "a@b.example", "Eve \u202etxt"):
        assert backend.rpc("display_name_problem", {"p_name": bad}, as_user=me), bad

    # My profile's save (save_my_profile): refused next to the name field, nothing saved.
    doc = load_my_profile(backend, me)
    profile = ProfileInput.from_document(doc)
    profile.display_name = PLANTED
    with pytest.raises(Refusal) as refused:
        save_my_profile(backend, me, profile, expected_version=doc["version"])
    assert "no symbols" in refused.value.fields["display_name"]
    assert load_my_profile(backend, me)["display_name"] == doc["display_name"]
    # Any other write of the name (the trigger on profiles), and registration.
    with psycopg.connect(embedded_db.owner_conninfo) as conn, pytest.raises(psycopg.errors.RaiseException) as caught:
        conn.execute("update public.profiles set display_name = %s where id = %s", (PLANTED, user_id))
    assert "no symbols" in caught.value.diag.message_primary and caught.value.diag.message_detail == "display_name"
    with pytest.raises(APIError) as registration:
        backend.rpc(
            "auth_request_registration",
            {
                "p_username": "planted_name",
                "p_email": "planted@clinic.org",
                "p_display_name": PLANTED,
                "p_password_hash": "$2b$12$" + "x" * 53,
            },
            as_user=SERVICE,
        )
    assert (registration.value.code, registration.value.details) == ("P0001", "display_name")
    assert "no symbols" in registration.value.message
    # A name saved before the rule does not stop other changes to the profile.
    with psycopg.connect(embedded_db.owner_conninfo, autocommit=True) as conn:
        conn.execute("alter table public.profiles disable trigger profiles_display_name_is_a_name")
        try:
            conn.execute("update public.profiles set display_name = %s where id = %s", ("Old_name 2", user_id))
        finally:
            conn.execute("alter table public.profiles enable trigger profiles_display_name_is_a_name")
        conn.execute("update public.profiles set pronouns = 'they/them' where id = %s", (user_id,))


# --- emails, invitations and exports -----------------------------------------------------------------------------


def email_row(**changes):
    row = {
        "id": 7,
        "kind": "booked",
        "recipient_name": PLANTED + "\nBcc: someone@else.example",
        "recipient_email": "reader@clinic.org",
        "message": f"{PLANTED} proposed a session <img src=x>",
        "page": "appointments",
        "appointment_id": "a1",
        "starts_at": "2026-12-10T15:00:00+00:00",
        "ends_at": "2026-12-10T15:50:00+00:00",
        "recipient_timezone": "UTC",
        "consultant_timezone": "America/New_York",
        "ics_method": "REQUEST",
        "series_id": "s1",
        "ics_sequence": 0,
        "other_name": PLANTED + "\r\nATTENDEE:mailto:evil@else.example",
    }
    return {**row, **changes}


def parts(message):
    text = message.get_body(preferencelist=("plain",)).get_content()
    html_part = message.get_body(preferencelist=("html",)).get_content()
    return text, html_part


def test_an_email_shows_member_text_as_text_in_both_parts_and_the_invitation():
    import email
    from email import policy

    from icalendar import Calendar

    from portal.email_messages import build_message, build_summary

    for message in (
        build_message(email_row(), sender="Portal <no-reply@portal.test>", base_url="http://portal.test"),
        build_summary([email_row(summary=True)], sender="Portal <no-reply@portal.test>", base_url="http://p.test"),
    ):
        message = email.message_from_bytes(bytes(message), policy=policy.default)
        text, html_part = parts(message)
        assert "<img" not in html_part and 'href="http://host.example' not in html_part
        assert "&lt;img src=x&gt;" in html_part and PLANTED in html_part  # the characters, escaped for HTML
        assert f"Dear {PLANTED} Bcc: someone@else.example," in text  # the name on one line, as typed
        assert not any(line.startswith("Bcc:") for line in text.splitlines())
        assert message["Bcc"] is None
        [attachment] = [p for p in message.iter_attachments() if p.get_content_type() == "text/calendar"]
        calendar = Calendar.from_ical(attachment.get_payload(decode=True))
        [event] = calendar.walk("VEVENT")
        assert str(event["SUMMARY"]) == f"Session with {PLANTED} ATTENDEE:mailto:evil@else.example"
        # The reader and the other party (named, at the portal's address): no attendee was injected.
        reader, other = event.get("ATTENDEE")
        assert str(reader) == "mailto:reader@clinic.org"
        assert str(reader.params["CN"]) == f"{PLANTED} Bcc: someone@else.example"
        assert str(other).startswith("mailto:no-reply+") and str(other).endswith("@portal.test")


def test_an_account_email_shows_the_name_as_text():
    from portal.email_messages import build_link_message

    row = {"id": 3, "kind": "registration", "email": "new@clinic.org", "username": "pat_q", "attempts": 1}
    message = build_link_message(
        {**row, "recipient_name": PLANTED + "\nline"},
        token="tok",
        sender="Portal <no-reply@portal.test>",
        base_url="http://portal.test",
    )
    text, html_part = parts(message)
    assert f"Dear {PLANTED} line," in text and "“pat_q”" in text
    assert "<img" not in html_part and 'href="http://host.example' not in html_part and PLANTED in html_part


def test_an_export_never_hands_a_spreadsheet_a_formula():
    import io
    import zipfile

    from portal.mydata import export_zip, spreadsheet_text

    assert spreadsheet_text('=HYPERLINK("http://host.example","x")').startswith("'=")
    assert [spreadsheet_text(v) for v in ("+1", "-1", "@SUM(A1)", "Dana Reyes", 3)] == [
        "'+1",
        "'-1",
        "'@SUM(A1)",
        "Dana Reyes",
        3,
    ]
    archive = zipfile.ZipFile(io.BytesIO(export_zip({"relationships": [{"counterpart": "=1+1", "note": "ok"}]})))
    assert archive.read("relationships.csv").decode().splitlines() == ["counterpart,note", "'=1+1,ok"]
