"""Pages through Streamlit's AppTest, on the real embedded database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from streamlit.testing.v1 import AppTest

from components.sign_in_sessions import SESSION_KEY
from portal.db import SERVICE
from portal.demo import DEMO_PASSWORD
from tests.page_support import PAGES, app, keyed, no_exceptions, open_profile, sign_in, texts
from tests.people_support import engaged_pair, make_account, make_consultant


@pytest.fixture(autouse=True)
def _database(embedded_db):
    """AppTest runs app.py in this process: it opens the same embedded database (PORTAL_DATA_DIR)."""


# --- every page renders for every role ----------------------------------------------------

ROLE_PAGES = {
    None: ["sign_in", "register"],
    "seeker01": [
        "home",
        "find",
        "consultant",
        "requests",
        "appointments",
        "termination",
        "notifications",
        "profile",
        "relationships",
        "account",
    ],
    "consultant01": [
        "home",
        "find",
        "consultant",
        "requests",
        "appointments",
        "termination",
        "notifications",
        "profile",
        "relationships",
        "practice",
        "availability",
        "account",
    ],
    "admin": [
        "home",
        "find",
        "consultant",
        "requests",
        "appointments",
        "termination",
        "notifications",
        "profile",
        "relationships",
        "account",
        "admin",
    ],
}


@pytest.mark.parametrize("username,page", [(u, p) for u, pages in ROLE_PAGES.items() for p in pages])
def test_page_renders_for_role(username, page):
    at = app(username).run()
    no_exceptions(at)
    at.switch_page(PAGES[page]).run()
    no_exceptions(at)
    assert not texts(at, "error"), texts(at, "error")  # a database refusal shows as an error, not an exception
    assert at.title, "every page has a title"
    assert at.caption, "every page states its purpose"


def test_signed_out_visitor_lands_on_sign_in():
    at = app().run()
    assert texts(at, "title") == ["Sign in"]


def test_member_pages_are_not_routed_for_signed_out_visitors():
    at = app().run()
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(PAGES["profile"])


def test_admin_page_is_not_in_a_members_menu_and_refuses_them():
    """Every address works (issue 15): the admin page is routed for a member too, and says it is not theirs."""
    at = app("seeker02").run()
    assert "Admin" not in [str(link.proto.label) for link in at.sidebar.get("page_link")]
    at.switch_page(PAGES["admin"]).run()
    no_exceptions(at)
    assert any("administrator" in text.lower() for text in texts(at, "warning") + texts(at, "error")), texts(
        at, "warning"
    ) + texts(at, "error")


# --- sign-in journeys -------------------------------------------------------------------


def test_sign_in_with_a_demo_account_reaches_home():
    at = sign_in(app().run(), "seeker01", DEMO_PASSWORD)
    no_exceptions(at)
    assert any("Signed in" in s for s in texts(at, "success"))
    at.run()
    assert texts(at, "title")[0].startswith("Welcome, ")


def test_wrong_password_is_refused_with_a_message():
    at = sign_in(app().run(), "seeker02", "Not-the-password-1")
    no_exceptions(at)
    assert any("incorrect" in e for e in texts(at, "error"))
    assert not at.session_state["authentication_status"]


def test_five_failures_lock_the_account_across_sessions(backend):
    username = make_account(backend)
    at = app().run()
    for _ in range(5):
        at = sign_in(at, username, "Wrong-pass-999")
    assert any("locked" in e for e in texts(at, "error"))
    # The right password in a new session (another browser) is still refused.
    other = sign_in(app().run(), username, "Good-pass-123")
    no_exceptions(other)
    assert any("locked" in e and "15 minutes" in e for e in texts(other, "error"))
    assert not other.session_state["authentication_status"]


def test_registration_then_sign_in(backend):
    from portal.account_links import REGISTRATION_ANSWER
    from tests.mail_support import finish_registration

    username = f"new_{uuid.uuid4().hex[:8]}"
    at = app().run()
    at.switch_page(PAGES["register"]).run()
    fields = {ti.label: ti for ti in at.text_input}
    fields["First name"].input("Jordan")
    fields["Last name"].input("Reyes")
    fields["Email"].input(f"{username}@example.org")
    fields["Username"].input(username)
    fields["Password"].input("Strong-pass-42")
    fields["Repeat password"].input("Strong-pass-42")
    next(b for b in at.button if b.label == "Create account").click()
    at.run()
    no_exceptions(at)
    assert texts(at, "success") == [REGISTRATION_ANSWER]  # the same sentence whatever the address (#13)
    # No account until the link in the email is opened: the password opens nothing yet.
    assert sign_in(app().run(), username, "Strong-pass-42").session_state["authentication_status"] is False
    assert finish_registration(backend, f"{username}@example.org") == {"outcome": "created", "username": username}

    again = app().run()
    again.switch_page(PAGES["register"]).run()
    fields = {ti.label: ti for ti in again.text_input}
    for label, value in {
        "First name": "Other",
        "Last name": "Person",
        "Email": f"x{username}@example.org",
        "Username": username,
        "Password": "Strong-pass-42",
        "Repeat password": "Strong-pass-42",
    }.items():
        fields[label].input(value)
    next(b for b in again.button if b.label == "Create account").click()
    again.run()
    assert any("taken" in e for e in texts(again, "error"))
    # What the person typed is still in the form.
    assert {ti.label: ti.value for ti in again.text_input}["First name"] == "Other"

    signed = sign_in(app().run(), username, "Strong-pass-42")
    assert signed.session_state["authentication_status"] is True


def test_registration_refuses_a_weak_password():
    at = app().run()
    at.switch_page(PAGES["register"]).run()
    fields = {ti.label: ti for ti in at.text_input}
    name = f"weak_{uuid.uuid4().hex[:6]}"
    for label, value in {
        "First name": "Weak",
        "Last name": "Password",
        "Email": f"{name}@example.org",
        "Username": name,
        "Password": "password",
        "Repeat password": "password",
    }.items():
        fields[label].input(value)
    next(b for b in at.button if b.label == "Create account").click()
    at.run()
    # The portal's rules (NIST: length and common passwords), not the authenticator's composition rules.
    assert any("passwords people use most" in e for e in texts(at, "error")), texts(at, "error")
    assert not any("Password must" in e for e in texts(at, "error"))


def test_sign_out_returns_to_sign_in():
    at = app("consultant02").run()
    at.switch_page(PAGES["account"]).run()
    at.button(key="sign_out").click().run()
    no_exceptions(at)
    assert at.session_state["authentication_status"] is None
    assert "portal_user" not in at.session_state
    at.run()  # the account page is no longer routed: the visitor lands on Sign in
    assert texts(at, "title") == ["Sign in"]


# --- my profile ---------------------------------------------------------------------------


def test_profile_change_is_saved_and_shown_again(backend):
    username = make_account(backend)
    at = open_profile(username)
    keyed(at, "text_input", "profile_pronouns").input("ze/zir")
    keyed(at, "number_input", "profile_years_in_practice").set_value(12)
    at.button(key="profile_save").click().run()
    no_exceptions(at)
    assert "Profile saved." in texts(at, "success")
    fresh = open_profile(username)
    assert keyed(fresh, "text_input", "profile_pronouns").value == "ze/zir"
    assert keyed(fresh, "number_input", "profile_years_in_practice").value == 12


def test_invalid_input_is_refused_next_to_the_field_and_kept(backend):
    username = make_account(backend)
    at = open_profile(username)
    keyed(at, "text_input", "profile_pronouns").input("they/them")
    keyed(at, "checkbox", "profile_offers_in_person").check()
    keyed(at, "number_input", "profile_fee_usd").set_value(4000)
    at.button(key="profile_save").click().run()
    no_exceptions(at)
    errors = texts(at, "error")
    assert "Name the city where you see people in person." in errors
    assert "The fee must be between $0 and $1,000 per session." in errors
    assert keyed(at, "text_input", "profile_pronouns").value == "they/them"
    assert keyed(at, "number_input", "profile_fee_usd").value == 4000
    assert keyed(open_profile(username), "text_input", "profile_pronouns").value in ("", None)


def test_stale_form_is_refused_and_keeps_what_was_typed(backend):
    username = make_account(backend)
    first, second = open_profile(username), open_profile(username)
    keyed(first, "text_input", "profile_pronouns").input("she/her")
    first.button(key="profile_save").click().run()
    assert "Profile saved." in texts(first, "success")

    keyed(second, "text_input", "profile_pronouns").input("he/him")
    second.button(key="profile_save").click().run()
    no_exceptions(second)
    assert any("changed elsewhere" in e for e in texts(second, "error"))
    assert keyed(second, "text_input", "profile_pronouns").value == "he/him"
    second.button(key="profile_load_latest").click().run()
    assert keyed(second, "text_input", "profile_pronouns").value == "she/her"


# --- admin --------------------------------------------------------------------------------


def test_admin_lists_and_unlocks_accounts(backend):
    username = make_account(backend)
    for _ in range(5):
        backend.rpc("auth_record_failed_login", {"p_username": username}, as_user=SERVICE)
    at = app("admin").run()
    at.switch_page(PAGES["admin"]).run()
    at.text_input(key="admin_query").input(username).run()
    no_exceptions(at)
    assert "1 account matches · page 1 of 1." in texts(at, "caption")
    at.button(key="admin_unlock").click().run()
    no_exceptions(at)
    assert backend.rpc("auth_get_login", {"p_username": username}, as_user=SERVICE)["locked_until"] is None


def admin_page() -> AppTest:
    at = app("admin").run()
    at.switch_page(PAGES["admin"]).run()
    no_exceptions(at)
    return at


def account_id(backend, username: str) -> str:
    return backend.rpc("auth_get_login", {"p_username": username}, as_user=SERVICE)["id"]


def test_admin_finds_any_account_reads_what_closing_ends_and_confirms_before_it_is_closed(backend, embedded_db):
    """Issue 26, item 1: the account is found beyond the table's first page (by name, in the database); the review
    names the client and the session that ends, at its time in the admin's zone; nothing closes until confirmed."""
    import psycopg

    from portal.db import Claims
    from portal.local_times import local_time
    from tests.care_parties import book

    consultant_username, client_username = engaged_pair(backend, embedded_db)
    consultant, client = account_id(backend, consultant_username), account_id(backend, client_username)
    marker = uuid.uuid4().hex[:6]
    with psycopg.connect(embedded_db.owner_conninfo, autocommit=True) as conn:  # names sorting after page 1
        conn.execute(
            "update public.profiles set display_name = %s, timezone = 'Asia/Tokyo' where id = %s",
            (f"Zed Closing {marker}", consultant),
        )
        conn.execute("update public.profiles set display_name = %s where id = %s", (f"Yara Client {marker}", client))
    session = book(backend, Claims.user(client), Claims.user(consultant), Claims.user(client))
    at = admin_page()
    accounts = next(t for t in at.tabs if t.label == "Accounts")
    assert consultant_username not in list(accounts.dataframe[0].value["Username"])  # not on the table's page
    at.text_input(key="admin_close_query").input(f"zed closing {marker}").run()
    at.selectbox(key="admin_close_choice").set_value(consultant).run()
    at.text_area(key="admin_close_reason").input("Licence suspended by the state board in March.").run()
    assert "admin_close" not in [b.key for b in at.button]  # nothing to press before the review
    at.button(key="admin_close_review_button").click().run()
    no_exceptions(at)
    shown = " ".join(texts(at, "markdown")).replace("\\", "")
    assert f"Yara Client {marker}, their client since" in shown
    admin_zone = backend.rpc("get_my_profile", {}, as_user=Claims.user(account_id(backend, "admin")))["timezone"]
    assert f"{local_time(session['starts_at'], admin_zone)} (New York time): Zed Closing {marker} with" in shown
    assert at.button(key="admin_close").disabled
    assert backend.rpc("auth_get_login", {"p_username": consultant_username}, as_user=SERVICE)  # still open
    at.checkbox(key="admin_close_confirm").check().run()
    at.button(key="admin_close").click().run()
    no_exceptions(at)
    assert f"Zed Closing {marker}'s account is closed; 1 client notified. The reason is in the audit log." in [
        t.replace("\\", "") for t in texts(at, "success")
    ]
    theirs = backend.rpc("my_appointments", {}, as_user=Claims.user(client))
    assert [a["status"] for a in theirs if a["id"] == session["id"]] == ["cancelled"]


def test_admin_close_asks_again_when_something_changed_since_the_review(backend, embedded_db):
    import psycopg

    from portal.db import Claims
    from tests.care_parties import book

    consultant_username, client_username = engaged_pair(backend, embedded_db)
    consultant, client = account_id(backend, consultant_username), account_id(backend, client_username)
    at = admin_page()
    at.text_input(key="admin_close_query").input(consultant_username).run()
    at.selectbox(key="admin_close_choice").set_value(consultant).run()
    at.text_area(key="admin_close_reason").input("Licence suspended by the state board in March.").run()
    at.button(key="admin_close_review_button").click().run()
    assert not [m for m in texts(at, "markdown") if "Upcoming sessions" in m]
    session = book(backend, Claims.user(client), Claims.user(consultant), Claims.user(client))  # booked meanwhile
    at.checkbox(key="admin_close_confirm").check().run()
    at.button(key="admin_close").click().run()
    no_exceptions(at)
    assert "Something changed since you reviewed this account: read what closing ends again and confirm." in texts(
        at, "error"
    )
    assert any("Upcoming sessions that are cancelled (1)" in m for m in texts(at, "markdown"))
    assert not at.checkbox(key="admin_close_confirm").value and at.button(key="admin_close").disabled
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        (status,) = conn.execute("select status from public.appointments where id = %s", (session["id"],)).fetchone()
    assert status == "requested"  # nothing was closed


def test_admin_close_of_an_account_closed_meanwhile_offers_it_no_more(backend, embedded_db):
    from portal.db import Claims

    consultant_username, _ = engaged_pair(backend, embedded_db)
    consultant = account_id(backend, consultant_username)
    at = admin_page()
    at.text_input(key="admin_close_query").input(consultant_username).run()
    at.selectbox(key="admin_close_choice").set_value(consultant).run()
    at.text_area(key="admin_close_reason").input("Licence suspended by the state board in March.").run()
    at.button(key="admin_close_review_button").click().run()
    backend.rpc(  # another admin, in another window
        "admin_close_account",
        {"p_user": consultant, "p_reason": "Licence suspended by the state board in March."},
        as_user=Claims.user(account_id(backend, "admin")),
    )
    at.checkbox(key="admin_close_confirm").check().run()  # the next rerun reads the picker afresh
    no_exceptions(at)
    assert "No account matches that, other than administrators'." in texts(at, "info")
    assert at.selectbox(key="admin_close_choice").value is None
    assert "admin_close" not in [b.key for b in at.button]  # nothing left to confirm


def test_admin_outbox_puts_status_first_and_says_kinds_in_words(backend, embedded_db):
    """Issue 26, item 8."""
    import psycopg

    member = account_id(backend, make_account(backend))
    with psycopg.connect(embedded_db.owner_conninfo, autocommit=True) as conn:
        conn.execute(
            "select private.notify(%s, 'attendance_disputed', 'The two of you recorded a session differently.', "
            "'appointments')",
            (member,),
        )
    at = admin_page()
    frame = next(t for t in at.tabs if t.label == "Outbox").dataframe[0].value
    assert list(frame.columns)[:2] == ["Status", "Kind"]
    assert "Attendance disputed" in set(frame["Kind"])
    assert not [k for k in frame["Kind"] if "_" in k]


def test_admin_resolving_a_dispute_is_confirmed(backend, embedded_db):
    """Issue 26, item 8: the admin reads what was recorded, after the rerun that takes the dispute off the list."""
    import psycopg

    from portal.db import Claims

    consultant_username, client_username = engaged_pair(backend, embedded_db)
    consultant, client = account_id(backend, consultant_username), account_id(backend, client_username)
    marker = uuid.uuid4().hex[:6]
    starts = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=1)
    with psycopg.connect(embedded_db.owner_conninfo, autocommit=True) as conn:
        conn.execute("update public.profiles set display_name = %s where id = %s", (f"Dora {marker}", consultant))
        appointment = str(
            conn.execute(
                "insert into public.appointments (consultant_id, client_id, engagement_id, starts_at, ends_at, "
                "blocked_until, status, requested_by) select e.consultant_id, e.seeker_id, e.id, %s, "
                "%s::timestamptz + interval '50 minutes', %s::timestamptz + interval '1 hour', 'confirmed', "
                "e.seeker_id from public.engagements e where e.consultant_id = %s returning id",
                (starts, starts, starts, consultant),
            ).fetchone()[0]
        )
    for who, outcome in ((client, "consultant_absent"), (consultant, "held")):
        backend.rpc("record_attendance", {"p_appointment": appointment, "p_outcome": outcome}, as_user=Claims.user(who))
    at = admin_page()
    at.selectbox(key=f"dispute_outcome_{appointment}").set_value("held")
    at.text_input(key=f"dispute_note_{appointment}").input("The platform log shows both joined.")
    at.button(key=f"dispute_resolve_{appointment}").click().run()
    no_exceptions(at)
    notices = [t.replace("\\", "") for t in texts(at, "success") if t.startswith("Resolved:")]
    assert len(notices) == 1 and f"between Dora {marker} and " in notices[0] and "“It was held”" in notices[0]
    assert f"dispute_resolve_{appointment}" not in [b.key for b in at.button]
    at.run()  # shown once
    assert not [t for t in texts(at, "success") if t.startswith("Resolved:")]


def test_admin_queue_filter_ignores_punctuation_and_the_order_of_words(backend, embedded_db):
    """Issue 26, item 8: "zoe obrien" finds Zoë O'Brien, as "zoe" did."""
    import psycopg

    _, consultant = make_consultant(backend, embedded_db)
    marker = uuid.uuid4().hex[:6]
    with psycopg.connect(embedded_db.owner_conninfo, autocommit=True) as conn:
        name = f"Zoë O'Brien {marker}"
        conn.execute("update public.profiles set display_name = %s where id = %s", (name, consultant))
    at = admin_page()
    cards = []
    for wanted in ("zoe obrien", f"OBRIEN, {marker} Zoe", f"o'brien-{marker}"):
        at.text_input(key="verify_filter").input(wanted).run()
        no_exceptions(at)
        cards = [b.key for b in at.button if (b.key or "").startswith("verify_approve_")]
        assert cards and not any("No matches" in i for i in texts(at, "info")), wanted
    at.text_input(key="verify_filter").input(f"zoe obrien {marker} nobody").run()
    assert not [b for b in at.button if (b.key or "").startswith("verify_approve_")]


# --- find, request, answer ------------------------------------------------------------------


def test_find_lists_ranked_consultants_with_their_score():
    at = app("seeker01").run()
    at.switch_page(PAGES["find"]).run()
    no_exceptions(at)
    assert any("consultants match" in m.value or "consultant matches" in m.value for m in at.markdown)
    assert at.metric, "each card shows its match score"
    assert at.get("progress") or True


def test_empty_search_offers_to_relax_the_filter_that_removed_most():
    at = app("seeker01").run()
    at.switch_page(PAGES["find"]).run()
    at.multiselect(key="find_languages").set_value(["asl", "ko"])
    at.multiselect(key="find_modalities").set_value(["play_therapy", "gottman"])
    at.button(key="find_submit").click().run()
    no_exceptions(at)
    assert any("would find" in w for w in texts(at, "warning"))
    relax = [b for b in at.button if b.key and b.key.startswith("find_relax_")]
    assert relax
    relaxed_filter = relax[0].key.removeprefix("find_relax_")
    found = int(relax[0].label.rsplit("(", 1)[1].split()[0])
    relax[0].click().run()
    no_exceptions(at)
    # The results and the form now agree with the relaxed search, and a new Search keeps it.
    assert any(f"**{found}** consultant{'s match' if found != 1 else ' matches'}" in m.value for m in at.markdown)
    widget = {
        "languages": "find_languages_1",
        "modalities": "find_modalities_1",
        "min_level": "find_min_level_1",
        "times": "find_times_1",
        "fee": "find_max_fee_1",
        "format": "find_format_1",
    }[relaxed_filter]
    assert at.session_state[widget] in ([], 1, None, "any")
    at.button(key="find_submit_1").click().run()
    assert any(f"**{found}** consultant{'s match' if found != 1 else ' matches'}" in m.value for m in at.markdown)


def test_request_accept_journey(backend, embedded_db):
    consultant_username, consultant_id = make_consultant(backend, embedded_db)
    seeker_username = make_account(backend)

    seeker = app(seeker_username)
    seeker.session_state["view_consultant"] = consultant_id
    seeker.run()
    seeker.switch_page(PAGES["consultant"]).run()
    no_exceptions(seeker)
    seeker.multiselect(key="request_modalities").set_value(["ifs"])
    seeker.text_area(key="request_message").input("I would like to work on burnout with IFS.")
    seeker.button(key="request_send").click().run()
    no_exceptions(seeker)
    assert any("Request sent" in s for s in texts(seeker, "success"))

    consultant = app(consultant_username).run()
    consultant.switch_page(PAGES["requests"]).run()
    no_exceptions(consultant)
    accept = [b for b in consultant.button if b.key and b.key.startswith("request_accept_")]
    assert len(accept) == 1
    accept[0].click().run()
    no_exceptions(consultant)
    assert any("An engagement began" in s for s in texts(consultant, "success"))

    seeker.switch_page(PAGES["requests"]).run()
    assert any("Accepted" in m.value for m in seeker.markdown)


def test_the_profile_shows_one_answer_the_latest_after_a_request_found_a_conflict(backend, embedded_db):
    """Issue 22.6: a green "No conflict found" from a check made before the request stayed above the yellow notice
    that the request's screening found one. After the request, the profile shows the kept level alone."""
    import psycopg

    from portal.db import Claims
    from portal.screening import LEVEL_TEXT, REQUEST_SCREENING_FOUND

    _, consultant_id = make_consultant(backend, embedded_db)
    seeker_username = make_account(backend)
    seeker_id = backend.rpc("auth_get_login", {"p_username": seeker_username}, as_user=SERVICE)["id"]
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        email = conn.execute("select email from private.credentials where user_id = %s", (consultant_id,)).fetchone()
    # Matched only when a request is sent: live, it reads as no conflict.
    backend.rpc(
        "add_my_relationship",
        {"p_kind": "colleague", "p_counterpart_email": email[0], "p_counterpart_name": "A colleague"},
        as_user=Claims.user(seeker_id),
    )
    seeker = app(seeker_username)
    seeker.session_state["view_consultant"] = consultant_id
    seeker.run()
    seeker.switch_page(PAGES["consultant"]).run()
    seeker.button(key=f"conflict_check_profile_{consultant_id}").click().run()
    assert LEVEL_TEXT["none"] in texts(seeker, "success")  # the control: the check before the request

    seeker.text_area(key="request_message").input("Could we talk about supervision stress?")
    seeker.button(key="request_send").click().run()
    no_exceptions(seeker)
    assert LEVEL_TEXT["none"] not in texts(seeker, "success")
    assert REQUEST_SCREENING_FOUND["potential"] in texts(seeker, "warning")
    seeker.button(key=f"conflict_check_profile_{consultant_id}").click().run()
    assert LEVEL_TEXT["potential"] in texts(seeker, "warning")
    assert LEVEL_TEXT["none"] not in texts(seeker, "success")


def test_decline_without_a_reason_is_refused_next_to_the_request(backend, embedded_db):
    consultant_username, consultant_id = make_consultant(backend, embedded_db)
    seeker_username = make_account(backend)
    seeker_id = backend.rpc("auth_get_login", {"p_username": seeker_username}, as_user=SERVICE)["id"]
    from portal.db import Claims
    from portal.requests import request_consultation

    request_consultation(backend, Claims.user(seeker_id), consultant_id, [], "Hello")
    consultant = app(consultant_username).run()
    consultant.switch_page(PAGES["requests"]).run()
    decline = [b for b in consultant.button if b.key and b.key.startswith("request_decline_")][0]
    decline.click().run()
    assert any("Give a reason" in e for e in texts(consultant, "error"))
    reason = [t for t in consultant.text_input if t.key and t.key.startswith("request_reason_")][0]
    reason.input("I am not taking IFS clients this year.")
    [b for b in consultant.button if b.key and b.key.startswith("request_decline_")][0].click().run()
    assert any("You declined" in s for s in texts(consultant, "success"))


def test_practice_page_saves_competencies_and_capacity(backend, embedded_db):
    consultant_username, consultant_id = make_consultant(backend, embedded_db)
    at = app(consultant_username).run()
    at.switch_page(PAGES["practice"]).run()
    no_exceptions(at)
    keyed(at, "number_input", "practice_capacity").set_value(99)
    at.button(key="practice_save").click().run()
    assert "Capacity is the number of active clients you can hold: 0 to 60." in texts(at, "error")
    keyed(at, "number_input", "practice_capacity").set_value(6)
    at.button(key="practice_save").click().run()
    no_exceptions(at)
    assert "Practice saved." in texts(at, "success")
    from portal.db import Claims

    assert backend.rpc("get_my_practice", {}, as_user=Claims.user(consultant_id))["intake"]["capacity"] == 6


def test_practice_saved_elsewhere_is_refused_keeps_what_was_typed_and_loads_the_latest(backend, embedded_db):
    consultant_username, _ = make_consultant(backend, embedded_db)
    first, second = (app(consultant_username).run() for _ in range(2))
    for at in (first, second):
        at.switch_page(PAGES["practice"]).run()
    keyed(first, "number_input", "practice_capacity").set_value(7)
    first.button(key="practice_save").click().run()
    assert "Practice saved." in texts(first, "success")

    keyed(second, "number_input", "practice_capacity").set_value(9)
    second.button(key="practice_save").click().run()
    no_exceptions(second)
    assert any("changed elsewhere" in e for e in texts(second, "error")) and not texts(second, "success")
    assert keyed(second, "number_input", "practice_capacity").value == 9
    second.button(key="practice_load_latest").click().run()
    assert keyed(second, "number_input", "practice_capacity").value == 7 and not texts(second, "error")


def test_admin_verifies_a_competency_from_the_queue(backend, embedded_db):
    _, consultant_id = make_consultant(backend, embedded_db)
    at = app("admin").run()
    at.switch_page(PAGES["admin"]).run()
    no_exceptions(at)
    from portal.db import Claims

    queue = backend.rpc(
        "admin_verification_queue", {"p_limit": 500}, as_user=Claims.user(at.session_state["portal_user"].id)
    )
    item = next(i for i in queue if i["member_id"] == consultant_id and i["kind"] == "competency")
    at.text_input(key="verify_filter").input(item["member_name"]).run()
    at.button(key=f"verify_approve_{item['id']}").click().run()
    no_exceptions(at)
    profile = backend.rpc(
        "get_consultant_profile",
        {"p_consultant": consultant_id},
        as_user=Claims.user(at.session_state["portal_user"].id),
    )
    assert profile["competencies"][0]["verified"] is True


def test_waiver_journey_then_acceptance(backend, embedded_db):
    from portal.db import Claims
    from portal.requests import request_consultation

    consultant_username, consultant_id = make_consultant(backend, embedded_db)
    seeker_username = make_account(backend)
    seeker_id = backend.rpc("auth_get_login", {"p_username": seeker_username}, as_user=SERVICE)["id"]
    backend.rpc(
        "add_my_relationship",
        {"p_kind": "training_cohort", "p_counterpart_id": consultant_id, "p_starts_on": "2024-01-01"},
        as_user=Claims.user(seeker_id),
    )

    seeker = app(seeker_username)
    seeker.session_state["view_consultant"] = consultant_id
    seeker.run()
    seeker.switch_page(PAGES["consultant"]).run()
    no_exceptions(seeker)
    assert any("possible dual relationship" in w for w in texts(seeker, "warning"))  # flagged on the profile
    seeker.button(key=f"conflict_check_profile_{consultant_id}").click().run()
    assert any("You declared that this person was in your training cohort" in m.value for m in seeker.markdown)
    seeker.text_area(key=f"waiver_rationale_profile_{consultant_id}").input("too short")
    seeker.button(key=f"waiver_sign_profile_{consultant_id}").click().run()
    assert any("at least 20 characters" in e for e in texts(seeker, "error"))
    seeker.text_area(key=f"waiver_rationale_profile_{consultant_id}").input(
        "We trained together but have had no contact since; we will discuss it in session one."
    )
    seeker.button(key=f"waiver_sign_profile_{consultant_id}").click().run()
    no_exceptions(seeker)
    assert any("Waiting for the other party" in c for c in texts(seeker, "caption"))
    request_consultation(backend, Claims.user(seeker_id), consultant_id, [], "Hello, as discussed.")

    consultant = app(consultant_username).run()
    consultant.switch_page(PAGES["requests"]).run()
    accept = [b for b in consultant.button if b.key and b.key.startswith("request_accept_")][0]
    accept.click().run()
    assert any("waiver" in e for e in texts(consultant, "error"))
    check = [b for b in consultant.button if b.key and b.key.startswith("conflict_check_request_")][0]
    check.click().run()
    # The consultant sees the conflict but not the seeker's declaration.
    assert any("information you cannot see" in m.value for m in consultant.markdown)
    assert not any("training cohort" in m.value for m in consultant.markdown)
    rationale = [t for t in consultant.text_area if t.key and t.key.startswith("waiver_rationale_request_")][0]
    rationale.input("Cohort overlap only; discussed with a peer consultant and documented in my notes.")
    [b for b in consultant.button if b.key and b.key.startswith("waiver_sign_request_")][0].click().run()
    no_exceptions(consultant)
    [b for b in consultant.button if b.key and b.key.startswith("request_accept_")][0].click().run()
    assert any("An engagement began" in s for s in texts(consultant, "success"))
    assert any("Waiver signed" in m.value for m in consultant.markdown)


# --- availability, booking, notifications ------------------------------------------------------


def test_booking_journey_with_confirmation_and_notifications(backend, embedded_db):
    consultant_username, client_username = engaged_pair(backend, embedded_db)
    client = app(client_username).run()
    client.switch_page(PAGES["appointments"]).run()
    no_exceptions(client)
    next(b for b in client.button if b.key and "_pick_" in b.key).click().run()  # one click picks a time
    client.button(key="book_submit").click().run()
    no_exceptions(client)
    assert any("Proposed" in s for s in texts(client, "success"))

    consultant = app(consultant_username).run()
    labels = [str(link.proto.label) for link in consultant.sidebar.get("page_link")]
    assert "Notifications (2 unread)" in labels, labels  # the request and the proposed session
    consultant.switch_page(PAGES["notifications"]).run()
    assert any("proposed a session" in m.value for m in consultant.markdown)
    consultant.switch_page(PAGES["appointments"]).run()
    confirm = [b for b in consultant.button if b.key and b.key.startswith("appt_confirm_")]
    assert len(confirm) == 1
    confirm[0].click().run()
    assert "Confirmed." in texts(consultant, "success")
    assert any("Confirmed" in m.value for m in consultant.markdown)


def test_cancelling_asks_for_a_reason_and_warns_before_a_late_cancellation(backend, embedded_db):
    from datetime import datetime, timedelta

    from portal.appointments import answer, book
    from portal.availability import open_slots
    from portal.db import Claims

    consultant_username, client_username = engaged_pair(backend, embedded_db)
    ids = {
        u: backend.rpc("auth_get_login", {"p_username": u}, as_user=SERVICE)["id"]
        for u in (consultant_username, client_username)
    }
    client_claims, consultant_claims = Claims.user(ids[client_username]), Claims.user(ids[consultant_username])
    today = datetime.now(UTC).date()
    slots = [
        s
        for s in open_slots(backend, client_claims, ids[consultant_username], today, today + timedelta(days=2))
        if datetime.fromisoformat(s["starts_at"]) > datetime.now(UTC) + timedelta(hours=2)
    ]
    appt = book(backend, client_claims, ids[consultant_username], slots[0]["starts_at"])
    answer(backend, consultant_claims, appt["id"], confirm=True)

    at = app(client_username).run()
    at.switch_page(PAGES["appointments"]).run()
    at.button(key=f"appt_cancel_{appt['id']}").click().run()
    assert any("Give a reason" in e for e in texts(at, "error"))
    at.text_input(key=f"appt_cancel_reason_{appt['id']}").input("Unwell today")
    at.button(key=f"appt_cancel_{appt['id']}").click().run()
    no_exceptions(at)
    assert any("late cancellation" in w for w in texts(at, "warning"))
    assert at.text_input(key=f"appt_cancel_reason_{appt['id']}").value == "Unwell today"  # kept
    at.checkbox(key=f"appt_accept_late_{appt['id']}").check()
    at.button(key=f"appt_cancel_{appt['id']}").click().run()
    no_exceptions(at)
    assert any("Cancelled with" in s for s in texts(at, "success"))


def test_availability_page_saves_and_previews_slots(backend, embedded_db):
    consultant_username, _ = make_consultant(backend, embedded_db)
    at = app(consultant_username).run()
    at.switch_page(PAGES["availability"]).run()
    no_exceptions(at)
    keyed(at, "number_input", "availability_session_minutes").set_value(5)
    at.button(key="availability_save").click().run()
    assert "Sessions last 15 to 180 minutes." in texts(at, "error")
    keyed(at, "number_input", "availability_session_minutes").set_value(60)
    keyed(at, "number_input", "availability_buffer_minutes").set_value(15)
    at.button(key="availability_save").click().run()
    no_exceptions(at)
    assert "Availability saved." in texts(at, "success")
    assert keyed(at, "number_input", "availability_buffer_minutes").value == 15
    # The week preview follows the switches and ranges as they are edited, before any save.
    assert "Preview: your coming week as colleagues see it" in [h.value for h in at.header]
    assert len(at.get("vega_lite_chart")) == 1
    assert all(": Not working" in line for line in at.markdown[-1].value.split("  \n"))
    for day in range(1, 8):
        keyed(at, "toggle", f"availability_day{day}_on").set_value(True)
    at.run()
    no_exceptions(at)
    lines = at.markdown[-1].value.split("  \n")
    assert all(": 09:00–17:00" in line for line in lines) and lines[-1].endswith(": 09:00–17:00")
    assert lines[0].endswith("; all too soon to book (24 hours' notice)")  # today, under the saved 24 hours' notice
    assert any("They book 60-minute sessions" in c for c in texts(at, "caption"))


# --- termination plans ---------------------------------------------------------------------


def test_termination_journey_propose_counter_agree(backend, embedded_db):
    consultant_username, client_username = engaged_pair(backend, embedded_db)
    consultant = app(consultant_username).run()
    consultant.switch_page(PAGES["termination"]).run()
    no_exceptions(consultant)
    # Too soon for a consultant-initiated ending: refused next to the field, nothing typed is lost.
    from datetime import timedelta

    consultant.date_input(key="plan_new_final").set_value(datetime.now(UTC).date() + timedelta(days=10))
    consultant.text_input(key="plan_new_external").input("Dr. Outside Referral")
    consultant.button(key="plan_new_save").click().run()
    no_exceptions(consultant)
    assert any("at least 21 days" in e for e in texts(consultant, "error"))
    assert consultant.text_input(key="plan_new_external").value == "Dr. Outside Referral"
    consultant.date_input(key="plan_new_final").set_value(datetime.now(UTC).date() + timedelta(days=30))
    consultant.button(key="plan_new_save").click().run()
    no_exceptions(consultant)
    assert any("Draft saved" in s for s in texts(consultant, "success"))
    propose = [b for b in consultant.button if b.key and b.key.endswith("_propose")]
    propose[0].click().run()
    assert any("Proposed and signed by you" in s for s in texts(consultant, "success"))

    client = app(client_username).run()
    client.switch_page(PAGES["termination"]).run()
    no_exceptions(client)
    assert any("Awaiting your signature" in m.value for m in client.markdown)
    remaining = [n for n in client.number_input if n.key and n.key.endswith("_remaining") and "plan_new" not in n.key]
    remaining[0].set_value(6)
    [b for b in client.button if b.key and b.key.endswith("_save") and "plan_new" not in b.key][0].click().run()
    no_exceptions(client)
    assert any("awaits the other signature" in s for s in texts(client, "success"))

    consultant.run()
    assert any("Awaiting your signature" in m.value for m in consultant.markdown)
    [b for b in consultant.button if b.key and b.key.endswith("_sign")][0].click().run()
    no_exceptions(consultant)
    assert any("agreed by both of you" in s for s in texts(consultant, "success"))
    assert any("Agreed" in m.value for m in consultant.markdown)


# --- home and my data -------------------------------------------------------------------------


def test_home_points_to_what_waits(backend, embedded_db):
    at = app("consultant01").run()  # the demo gives consultant01 two pending requests
    no_exceptions(at)
    labels = [str(link.proto.label) for link in at.main.get("page_link")]
    assert any(label.endswith("consultation requests to answer") for label in labels), labels


def test_new_member_is_walked_through_the_profile(backend):
    at = app(make_account(backend)).run()
    assert any("Complete your profile" in m.value for m in at.markdown)


def test_download_my_data_and_delete_my_account(backend):
    username = make_account(backend)
    at = app(username).run()
    session = at.session_state[SESSION_KEY]
    at.switch_page(PAGES["account"]).run()
    at.button(key="my_data_prepare").click().run()
    no_exceptions(at)
    assert at.session_state["my_data_zip"][:2] == b"PK"
    at.text_input(key="delete_confirm").input("not-me")
    at.button(key="delete_account").click().run()
    assert any("Type your username" in e for e in texts(at, "error"))
    at.text_input(key="delete_confirm").input(username)
    at.button(key="delete_account").click().run()
    no_exceptions(at)
    assert "Your account was deleted." in texts(at, "success")
    assert backend.rpc("auth_get_login", {"p_username": username}, as_user=SERVICE) is None
    # Removing the cookie reruns the app, signed out: the sign-in page it lands on still says so.
    at.run()
    no_exceptions(at)
    assert texts(at, "title") == ["Sign in"] and "Your account was deleted." in texts(at, "success")
    ghost = app()  # another browser session still naming the deleted account (and its session) is signed out
    ghost.session_state["authentication_status"] = True
    ghost.session_state["username"] = username
    ghost.session_state[SESSION_KEY] = session
    ghost.run()
    no_exceptions(ghost)
    assert "portal_user" not in ghost.session_state and not ghost.session_state["authentication_status"]
    assert texts(ghost, "title") == ["Sign in"]


# --- a rerun re-reads nothing that did not change (issue 25.3) --------------------------------------------------


def test_appointments_reads_each_members_zone_once_per_session_not_on_every_rerun(backend, embedded_db, monkeypatch):
    import psycopg

    from portal.db.local import LocalBackend

    consultant_username, client_username = engaged_pair(backend, embedded_db)
    with psycopg.connect(embedded_db.owner_conninfo, autocommit=True) as conn:
        conn.execute(
            "update public.profiles p set timezone = case when c.username = %s then 'Asia/Tokyo' "
            "else 'America/Denver' end from private.credentials c where c.user_id = p.id and c.username in (%s, %s)",
            (consultant_username, consultant_username, client_username),
        )
    asked: list[str] = []
    real_rpc = LocalBackend.rpc

    def counting_rpc(self, fn, params=None, *, as_user):
        asked.append(fn)
        return real_rpc(self, fn, params, as_user=as_user)

    monkeypatch.setattr(LocalBackend, "rpc", counting_rpc)
    for username, zone in ((consultant_username, "Asia/Tokyo"), (client_username, "America/Denver")):
        at = app(username).run()  # Home, which shows the whole profile
        asked.clear()
        at.switch_page(PAGES["appointments"]).run()
        no_exceptions(at)
        assert asked.count("get_my_profile") == 1, asked  # read once, for this member
        asked.clear()
        at.run()  # a rerun (any click): the zone is not read again
        no_exceptions(at)
        assert "get_my_profile" not in asked and "my_appointments" in asked, asked
        assert at.session_state["portal_my_timezone"]["zone"] == zone  # each session holds its own member's
        asked.clear()


def test_settings_are_read_once_per_environment_and_again_when_it_changes(monkeypatch):
    from components import context

    monkeypatch.setenv("PORTAL_DEMO_DATA", "0")
    first = context.settings()
    assert context.settings() is first and not first.load_demo_data
    monkeypatch.setenv("PORTAL_DEMO_DATA", "1")
    changed = context.settings()
    assert changed is not first and changed.load_demo_data


def test_no_full_garbage_collection_holds_every_session_after_each_run():
    from streamlit import config

    # .streamlit/config.toml: a full collection after every rerun stalled every other session (bench/app.py).
    assert config.get_option("runner.postScriptGC") is False
