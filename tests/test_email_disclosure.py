"""An email says what the app's notice says, and nothing a screening hid (#13: "the same disclosure rules as the
app: test it"). A consultant privately declares a seeker a friend; the seeker is told of a possible conflict but
never why. The seeker's emails about the request carry the notice's own sentence and the portal's fixed words,
and no trace of the declaration."""

from __future__ import annotations

import psycopg
from psycopg.rows import dict_row

from portal.db import SERVICE, Claims
from portal.email_messages import build_message
from portal.requests import request_consultation, respond
from portal.screening import RelationshipInput, add_relationship, relationship_kinds
from tests.people_support import make_account, make_consultant

HIDDEN = ("friend", "declared", "declaration")  # the consultant's reason, in any wording the portal uses


def emails_to(embedded_db, member_id: str) -> list[tuple[dict, str]]:
    """(claimed outbox row, plain-text body) of every email queued for the member, claimed in a transaction that
    is rolled back so other tests' rows stay queued."""
    with psycopg.connect(embedded_db.owner_conninfo, row_factory=dict_row) as conn:
        rows = conn.execute("select * from public.outbox_claim(500) where recipient_id = %s", (member_id,)).fetchall()
        conn.rollback()
    return [
        (
            row,
            build_message(row, sender="portal@portal.example", base_url="https://portal.example")
            .get_body(("plain",))
            .get_content(),
        )
        for row in rows
    ]


def test_a_seekers_emails_about_a_request_carry_no_hidden_reason(backend, embedded_db):
    consultant_username, consultant_id = make_consultant(backend, embedded_db)
    seeker_username = make_account(backend)
    seeker_id = backend.rpc("auth_get_login", {"p_username": seeker_username}, as_user=SERVICE)["id"]
    consultant, seeker = Claims.user(consultant_id), Claims.user(seeker_id)
    try:
        # By name and address (a seeker is not in the consultants' list): matched when the request is sent.
        add_relationship(
            backend,
            consultant,
            RelationshipInput(
                kind="friend", counterpart_name="Casey Tester", counterpart_email=f"{seeker_username}@test.example"
            ),
            set(relationship_kinds(backend, consultant)),
        )
        request = request_consultation(backend, seeker, consultant_id, ["ifs"], "Hello, I would like to start.")
        respond(
            backend,
            consultant,
            request["id"] if isinstance(request, dict) else request,
            accept=False,
            reason="My practice is full this season.",
        )  # the consultant's own words may be told

        notices = {n["id"]: n["message"] for n in backend.rpc("my_notifications", {}, as_user=seeker)}
        emails = emails_to(embedded_db, seeker_id)
        assert emails, "the seeker's answer is queued as an email"
        for row, body in emails:
            assert row["message"] in notices.values()  # the app's own sentence ...
            assert body.startswith(f"Dear {row['recipient_name']},\n\n{row['message']}\n\nOpen ")  # ... and no more
            assert not [word for word in HIDDEN if word in body.lower()], body
        assert not [m for m in notices.values() if any(word in m.lower() for word in HIDDEN)]
        # The control: the screening kept with the request did match the declaration.
        with psycopg.connect(embedded_db.owner_conninfo) as conn:
            kept = conn.execute(
                "select reasons::text from private.request_screenings where seeker_id = %s and consultant_id = %s",
                (seeker_id, consultant_id),
            ).fetchone()
        assert kept and "friend" in kept[0], kept
    finally:
        with psycopg.connect(embedded_db.owner_conninfo) as conn:  # out of the directory other tests search
            conn.execute("update public.profiles set is_consultant = false where id = %s", (consultant_id,))
