"""The waitlist on the pages (issue 26, item 13), through AppTest on the embedded database: the seeker asks to be
told on a full consultant's profile, sees since when and until when they wait, renews and leaves; a refusal reads as
a sentence there; the consultant reads on My practice how many wait, and never who."""

from __future__ import annotations

import psycopg
import pytest

from portal.db import Claims
from portal.plain_text import plain
from tests.care_parties import engage, register, retire
from tests.page_support import all_text, signed_in_app

CONSULTANT_PAGE = "views/consultant.py"
PRACTICE_PAGE = "views/my_practice.py"


@pytest.fixture
def full(embedded_db):
    """A consultant at capacity (1 of 1) and a seeker who lives where they are licensed; (consultant, seeker)."""
    consultant = register(embedded_db.owner_conninfo, "Dr. Fern Full", consultant=True)
    client = register(embedded_db.owner_conninfo, "Cleo Client")
    engage(embedded_db.owner_conninfo, consultant, client)
    with psycopg.connect(embedded_db.owner_conninfo, autocommit=True) as conn:
        conn.execute("update public.availability_settings set capacity = 1 where consultant_id = %s", (consultant.sub,))
    seeker = register(embedded_db.owner_conninfo, "Sam Waiting")
    yield consultant, seeker
    retire(embedded_db.owner_conninfo, [consultant])


def username(embedded_db, who: Claims) -> str:
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        return conn.execute("select username from private.credentials where user_id = %s", (who.sub,)).fetchone()[0]


def profile_page(backend, embedded_db, seeker: Claims, consultant: Claims):
    at = signed_in_app(backend, username(embedded_db, seeker))
    at.session_state["view_consultant"] = consultant.sub
    at.run()
    at.switch_page(CONSULTANT_PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def click(at, key: str):
    at.button(key=key).click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_a_seeker_asks_to_be_told_renews_and_leaves_on_the_profile(backend, embedded_db, full):
    consultant, seeker = full
    at = profile_page(backend, embedded_db, seeker, consultant)
    assert any("not taking new clients" in w.value for w in at.warning)
    click(at, f"waitlist_join_{consultant.sub}")
    assert any("You are on the waitlist. You will be told" in s.value for s in at.success)
    (waiting,) = [i.value for i in at.info if "You are on the waitlist since" in i.value]
    assert waiting.startswith("You are on the waitlist since today, until ")
    click(at, f"waitlist_renew_{consultant.sub}")
    assert any("Renewed" in s.value for s in at.success)
    click(at, f"waitlist_leave_{consultant.sub}")
    assert any("You left the waitlist" in s.value for s in at.success)
    assert [b.key for b in at.button if (b.key or "").startswith("waitlist_")] == [f"waitlist_join_{consultant.sub}"]


def test_a_seeker_who_could_not_ask_reads_why_next_to_the_button(backend, embedded_db, full):
    consultant, _ = full
    far = register(embedded_db.owner_conninfo, "Fay Faraway", home="CA")
    at = profile_page(backend, embedded_db, far, consultant)
    click(at, f"waitlist_join_{consultant.sub}")
    assert any("holds no current licence in California, where you live" in e.value for e in at.error)
    assert not any("You are on the waitlist" in i.value for i in at.info)


def test_the_consultant_reads_how_many_wait_and_never_who(backend, embedded_db, full):
    consultant, seeker = full
    at = signed_in_app(backend, username(embedded_db, consultant)).run()
    at.switch_page(PRACTICE_PAGE).run()
    assert "Nobody is waiting to be told when you have room." in all_text(at)
    backend.rpc("join_waitlist", {"p_consultant": consultant.sub}, as_user=seeker)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    text = all_text(at)
    assert "1 colleague is waiting to be told when you have room." in text
    assert "Sam Waiting" not in text


def test_the_notice_that_room_opened_opens_the_consultants_profile(backend, embedded_db, full):
    consultant, seeker = full
    backend.rpc("join_waitlist", {"p_consultant": consultant.sub}, as_user=seeker)
    with psycopg.connect(embedded_db.owner_conninfo, autocommit=True) as conn:
        conn.execute("update public.availability_settings set capacity = 2 where consultant_id = %s", (consultant.sub,))
    at = signed_in_app(backend, username(embedded_db, seeker)).run()
    at.switch_page("views/notifications.py").run()
    (notice,) = [m.value for m in at.markdown if "has room for a new client again" in m.value]
    assert plain("Dr. Fern Full has room for a new client again, as you asked to be told.") in notice
    (open_button,) = [b for b in at.button if (b.key or "").startswith("notification_open_")]
    open_button.click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert [t.value for t in at.title] == [plain("Dr. Fern Full")]
    assert at.form(key="request_form") is not None  # there is room: the request form, no waitlist
