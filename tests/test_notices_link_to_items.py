"""Each notice names the plan or the session it is about (#13: "links to that exact item"): in the app, "Open"
goes to that plan (termination?plan=<id>), and the email's link does too. The item comes from what the same
change touched, or from a reminder's key, and only when the recipient is a party of it."""

from __future__ import annotations

import uuid

import psycopg
from psycopg.rows import dict_row

from portal.appointments import book
from portal.db import Claims
from portal.email_messages import build_message, item_link
from tests.engagement_support import agreed_plan  # noqa: F401 (a fixture)
from tests.page_support import PAGES, app, no_exceptions, texts
from tests.people_support import engaged_pair, first_slot, member_id, notifications_of


def outbox_plan(embedded_db, notification_id: str) -> str | None:
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        row = conn.execute("select plan_id from private.outbox where notification_id = %s", (notification_id,))
        return (found := row.fetchone()) and found[0] and str(found[0])


def test_plan_notices_carry_their_plan_into_the_app_and_the_email(backend, embedded_db, agreed_plan):  # noqa: F811
    consultant_username, client_username, plan_id, _ = agreed_plan
    client = Claims.user(member_id(backend, client_username))
    consultant = Claims.user(member_id(backend, consultant_username))
    [proposed] = notifications_of(backend, client, "plan_proposed")
    [agreed] = notifications_of(backend, consultant, "plan_agreed")
    assert str(proposed["plan_id"]) == plan_id and str(agreed["plan_id"]) == plan_id
    assert outbox_plan(embedded_db, proposed["id"]) == plan_id  # the email knows it too

    # The sender's claim returns it (claimed in a transaction rolled back: other tests' rows stay queued), and the
    # email built from the claimed row links to the plan itself.
    with psycopg.connect(embedded_db.owner_conninfo, row_factory=dict_row) as conn:
        claimed = conn.execute("select * from public.outbox_claim(500) where plan_id = %s", (plan_id,)).fetchall()
        conn.rollback()
    assert claimed and {(str(row["plan_id"]), row["page"]) for row in claimed} == {(plan_id, "termination")}
    email = build_message(claimed[0], sender="portal@portal.example", base_url="https://portal.example/")
    link = f"https://portal.example/termination?plan={plan_id}"
    assert link in email.get_body(("plain",)).get_content() and link in email.get_body(("html",)).get_content()
    assert item_link({"page": "requests"}, "https://portal.example") == "https://portal.example/requests"


def test_open_on_a_plan_notice_shows_that_plan(backend, embedded_db, agreed_plan):  # noqa: F811
    _, client_username, plan_id, _ = agreed_plan
    [proposed] = notifications_of(backend, Claims.user(member_id(backend, client_username)), "plan_proposed")
    at = app(client_username).run()
    at.switch_page(PAGES["notifications"]).run()
    at.button(key=f"notification_open_{proposed['id']}").click().run()
    no_exceptions(at)
    assert texts(at, "title") == ["Termination plans"]
    assert "This plan alone, as its link shows it." in texts(at, "caption")
    assert at.query_params.get("plan") in (plan_id, [plan_id])


def test_a_session_notice_carries_its_session(backend, embedded_db):
    consultant_username, client_username = engaged_pair(backend, embedded_db)
    consultant = Claims.user(member_id(backend, consultant_username))
    client = Claims.user(member_id(backend, client_username))
    appointment = book(backend, client, consultant.sub, first_slot(backend, client, consultant.sub))
    [booked] = notifications_of(backend, consultant, "booked")
    assert str(booked["appointment_id"]) == str(appointment["id"]) and booked["plan_id"] is None


def test_an_item_is_named_only_to_its_parties(backend, embedded_db, agreed_plan):  # noqa: F811
    consultant_username, _, plan_id, _ = agreed_plan
    stranger = str(uuid.UUID(member_id(backend, "seeker07")))
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        # A reminder key naming someone else's plan, and the plan this change touched: neither is the stranger's.
        conn.execute("select set_config('portal.changed_plan', %s, true)", (plan_id,))
        names = conn.execute(
            "insert into public.notifications (user_id, kind, message, page, dedup_key) values "
            "(%s, 'plan_awaiting', 'x', 'termination', %s), (%s, 'plan_changed', 'y', 'termination', null) "
            "returning plan_id",
            (stranger, f"probe:{plan_id}:1", stranger),
        ).fetchall()
        conn.rollback()
    assert names == [(None,), (None,)]


def test_a_session_notice_opens_that_session_and_its_email_links_there(backend, embedded_db):
    consultant_username, client_username = engaged_pair(backend, embedded_db)
    consultant = Claims.user(member_id(backend, consultant_username))
    client = Claims.user(member_id(backend, client_username))
    appointment = book(backend, client, consultant.sub, first_slot(backend, client, consultant.sub))
    [booked] = notifications_of(backend, consultant, "booked")

    at = app(consultant_username).run()
    at.switch_page(PAGES["notifications"]).run()
    at.button(key=f"notification_open_{booked['id']}").click().run()
    no_exceptions(at)
    assert texts(at, "title") == ["Appointments"]
    [said] = [i for i in texts(at, "info") if i.startswith("This link is about your session on")]
    assert "listed under Upcoming" in said and "Proposed" in said
    assert at.query_params.get("session") in (str(appointment["id"]), [str(appointment["id"])])

    email = build_message(
        {
            "id": 1,
            "page": "appointments",
            "appointment_id": appointment["id"],
            "kind": "booked",
            "message": booked["message"],
            "recipient_name": "Casey",
            "recipient_email": "c@x.example",
        },
        sender="portal@portal.example",
        base_url="https://portal.example",
    )
    link = f"https://portal.example/appointments?session={appointment['id']}"
    assert link in email.get_body(("plain",)).get_content()


def test_a_session_link_that_is_not_yours_says_so_alike(backend, embedded_db):
    consultant_username, client_username = engaged_pair(backend, embedded_db)
    client = Claims.user(member_id(backend, client_username))
    appointment = book(
        backend,
        client,
        member_id(backend, consultant_username),
        first_slot(backend, client, member_id(backend, consultant_username)),
    )
    answers = []
    for asked in (str(appointment["id"]), str(uuid.uuid4()), "not-an-id"):  # someone else's, unknown, malformed
        at = app("seeker07").run()
        at.query_params["session"] = asked
        at.switch_page(PAGES["appointments"]).run()
        no_exceptions(at)
        answers.append([w for w in texts(at, "warning") if "not among yours" in w])
    assert answers[0] and answers == [answers[0]] * 3
