"""Browser journey, end to end: a new seeker and a demo consultant, each in their own Chromium context.

The issue's story, made concrete with the demo world:

1. a new seeker registers, signs in and completes My profile (pronouns, years in practice, and a
   licence row in NY typed into the licences grid);
2. on My relationships they declare consultant25 a friend (potential) and consultant13 a former
   clinical supervisor, 2019 until a year ago (blocking);
3. Find a consultant (NY, taken from the saved licence): consultant25's card carries the
   possible-dual-relationship warning, consultant13 is nowhere in the results although every other
   NY consultant with room is;
4. they open consultant01 (no conflict, room for clients) and send a request with a message;
5. consultant01 signs in (a second context) and accepts it;
6. consultant01 shortens the minimum notice and widens the late-cancellation threshold on My
   availability, the seeker proposes the first open time, the consultant confirms it, and the seeker
   cancels it late (warning, acknowledgement, recorded as late);
7. consultant01 starts a termination plan (external referral), proposes it, the seeker counter-proposes
   fewer sessions, the consultant signs version 2: agreed by both;
8. both download their data (a zip with my-data.json) and the contents are checked.

Every page visited is saved as test-artifacts/journey/<local or supabase>/NN-name.png; the downloads go next to them.
"""

from __future__ import annotations

import json
import re
import time
import uuid
import zipfile
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest

from portal.demo import DEMO_PASSWORD, demo_world
from tests.app_server import (
    ARTIFACTS,
    STEP_TIMEOUT,
    AppServer,
    Shots,
    activity,
    card,
    choose,
    choose_many,
    click,
    combobox,
    expect_drawn,
    fill_sign_in,
    goto,
    new_context,
    notice,
    open_page,
    poll_until,
    running_app,
    sign_in,
    title,
    type_date,
    wait_for_sign_in_form,
    wait_until_idle,
)

try:
    from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect
except ImportError:  # reported by require_tool in chromium_browser()
    pass

pytestmark = pytest.mark.browser

SHOTS = ARTIFACTS / "journey"
GRID_TIMEOUT = 5_000  # ms: one keystroke's effect in the licences grid

WORLD = {p.username: p for p in demo_world()}
BLOCKED = WORLD["consultant13"]  # the seeker's former clinical supervisor: must be hidden from search
FLAGGED = WORLD["consultant25"]  # the seeker's friend: shown, with a warning
CHOSEN = WORLD["consultant01"]  # no conflict, accepting, room for clients: the one the seeker asks
WORLD_BY_ID = {str(p.id): p for p in WORLD.values()}
HOME = "NY"

SEEKER_PASSWORD = "Journey-pass-1!"  # 8-20 characters, upper, lower, digit, symbol
FIRST_NAME = "Robin"
REQUEST_MESSAGE = (
    "I'm a clinician looking for my own therapy after a hard year in practice; "
    "telehealth in the mornings would suit me."
)
EXTERNAL_REFERRAL = "Dr. Morgan Ellis (Hudson Valley Counseling)"


# ---------------------------------------------------------------------------------------------------------------
# Streamlit widgets, as a person uses them


def reopen_page(page: Page, link: str, heading: str | re.Pattern) -> None:
    """Show a page afresh (its data reloaded) by passing through Home."""
    open_page(page, "Home", re.compile(r"^Welcome, "))
    open_page(page, link, heading)


def registration_token(app: AppServer, address: str) -> str:
    """The token of the verification link sent to `address`: the sender run here against the app's database
    (local mode: the app's own thread may have written the message first, into its mailbox)."""
    import email

    from portal.mailer import Mailer, MailSettings

    if app.extra_env.get("PORTAL_BACKEND") == "supabase":
        from portal.db.supabase_backend import SupabaseBackend
        from portal.db.tokens import TokenMinter

        env = app.extra_env
        backend = SupabaseBackend(
            env["SUPABASE_URL"], env["SUPABASE_KEY"], TokenMinter(secret=env["SUPABASE_JWT_SECRET"])
        )
    else:
        from portal.db.bootstrap import start_embedded
        from portal.db.local import LocalBackend

        backend = LocalBackend(start_embedded(app.data_dir, cleanup_mode=None).api_conninfo, max_size=2)
    mailbox = app.data_dir / "journey-mailbox"
    try:
        mailer = Mailer(backend, MailSettings(mailbox_dir=mailbox, base_url=app.url))

        def delivered_token() -> str | None:
            mailer.run_once(limit=100)
            for path in [
                *mailbox.glob("*-account-registration.eml"),
                *(app.data_dir / "mailbox").glob("*-account-registration.eml"),
            ]:
                message = email.message_from_bytes(path.read_bytes())
                if message["To"] == address:
                    body = next(p for p in message.walk() if p.get_content_type() == "text/plain")
                    text = body.get_payload(decode=True).decode()
                    return re.search(r"verify-email\?token=([A-Za-z0-9_-]+)", text).group(1)
            return None

        return poll_until(delivered_token, what=f"no verification link reached {address}")
    finally:
        backend.close()


class LicenceGrid:
    """The licences st.data_editor: a canvas, driven with the keyboard as a person would.

    The hidden accessibility table (td#glide-cell-<column>-<row>, aria-selected) says which cell is
    selected; an open cell editor lives in #portal.
    """

    def __init__(self, page: Page) -> None:
        self.page = page
        self.grid = page.get_by_test_id("stDataFrame")
        self.editor = page.locator("#portal input, #portal textarea")

    def cell(self, column: int, row: int) -> Locator:
        return self.grid.locator(f"td#glide-cell-{column}-{row}")

    def add_row(self) -> None:
        # The page must be done drawing: a run still going (My profile ends with the email choices) moves the
        # grid under the pointer, and the toolbar's "Add row" is then "not stable" or covered.
        wait_until_idle(self.page)
        # Centred, not at the top edge: there the toolbar above the grid sits under Streamlit's sticky header.
        self.grid.evaluate("grid => grid.scrollIntoView({block: 'center'})")
        self.grid.hover()
        # The button's own click event: a pointer click lands on whatever lies on top, and on a loaded machine
        # Playwright's scrolling retries kept putting the toolbar under the sticky header until the step timed out.
        self.grid.get_by_role("button", name="Add row").dispatch_event("click")
        expect(self.cell(1, 0)).to_have_count(1, timeout=GRID_TIMEOUT)

    def select_first_cell(self, row: int) -> None:
        """Click the row's first cell (the only place the canvas needs coordinates)."""
        if self.cell(1, row).get_attribute("aria-selected") != "true":
            box = self.grid.get_by_test_id("stDataFrameResizable").bounding_box()
            assert box, "the licences grid is not on screen"
            # Header and rows are 35 px high; the row-marker column is about 33 px wide.
            self.page.mouse.click(box["x"] + 60, box["y"] + 35 + 35 * row + 17)
        expect(self.cell(1, row)).to_have_attribute("aria-selected", "true", timeout=GRID_TIMEOUT)

    def move(self, key: str, column: int, row: int) -> None:
        self.page.keyboard.press(key)
        expect(self.cell(column, row)).to_have_attribute("aria-selected", "true", timeout=GRID_TIMEOUT)

    def open_editor(self) -> Locator:
        self.page.keyboard.press("Enter")
        editor = self.editor.first
        expect(editor).to_be_focused(timeout=GRID_TIMEOUT)
        return editor

    def commit(self) -> None:
        self.page.keyboard.press("Enter")
        expect(self.editor).to_have_count(0, timeout=GRID_TIMEOUT)

    def pick(self, text: str) -> None:
        """A select cell: type to filter, then take the matching option."""
        self.open_editor()
        self.page.keyboard.type(text)
        expect(self.page.get_by_role("option", name=text, exact=True)).to_be_visible(timeout=GRID_TIMEOUT)
        self.commit()

    def write(self, text: str) -> None:
        """A text or date cell: fill the editor's input."""
        self.open_editor().fill(text)
        self.commit()

    def add_licence(self, jurisdiction: str, licence_type: str, number: str, expires: date) -> None:
        """Fill a new first row (a new member's grid is empty), cell by cell, with the keyboard."""
        self.add_row()
        self.select_first_cell(0)
        self.pick(jurisdiction)  # Enter commits and moves the selection down, to the "add a row" row
        self.move("ArrowUp", 1, 0)
        self.move("ArrowRight", 2, 0)
        self.pick(licence_type)
        self.move("ArrowUp", 2, 0)
        self.move("ArrowRight", 3, 0)
        self.write(number)
        self.move("ArrowUp", 3, 0)
        self.move("ArrowRight", 4, 0)
        self.write(expires.isoformat())
        for column, text in enumerate((jurisdiction, licence_type, number, expires.isoformat()), start=1):
            expect(self.cell(column, 0)).to_have_text(text, timeout=GRID_TIMEOUT)


def plan_card(page: Page, *texts: str) -> Locator:
    return card(page, "plan_", *texts, key_suffix="_card")


def download_my_data(page: Page, shots: Shots, who: str) -> dict:
    open_page(page, "Account", "Account")
    click(page, page.get_by_role("button", name="Prepare my data"))
    button = page.get_by_role("button", name="Download my data (.zip)")
    expect(button).to_be_visible(timeout=STEP_TIMEOUT)
    shots(page, f"{who}-account-data-ready")
    with page.expect_download(timeout=STEP_TIMEOUT) as info:
        click(page, button)
    download = info.value
    target = SHOTS / f"{who}-{download.suggested_filename}"
    download.save_as(str(target))
    with zipfile.ZipFile(target) as archive:
        names = archive.namelist()
        assert "my-data.json" in names, f"{target} holds {names}, not my-data.json"
        return json.loads(archive.read("my-data.json"))


# ---------------------------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="module", params=["local", "supabase"])
def app(request) -> Iterator[AppServer]:
    """The same journey on the embedded database, and in Supabase mode: the app talking to PostgREST
    behind a Supabase-like gateway, on the Postgres 15 that `supabase db push` deployed."""
    if request.param == "local":
        with running_app("app-server-journey.log", "journey") as server:
            yield server
        return
    stack = request.getfixturevalue("supabase_stack")
    with running_app("app-server-journey-supabase.log", "journey-supabase", stack["app_environment"]) as server:
        yield server


@pytest.fixture(scope="module")
def warm_app(app: AppServer, browser: Browser) -> AppServer:
    """Load the sign-in page once: the first run of app.py builds the database (timed)."""
    backend = app.extra_env.get("PORTAL_BACKEND", "local")
    wait_for_sign_in_form(
        app, browser, label=f"journey {backend}", screenshot_path=SHOTS / backend / "00-first-load-failed.png"
    )
    return app


# ---------------------------------------------------------------------------------------------------------------
# The journey


def test_seeker_and_consultant_journey(warm_app: AppServer, browser: Browser) -> None:
    shots = Shots(
        SHOTS / warm_app.extra_env.get("PORTAL_BACKEND", "local"), "journey"
    )  # neither run overwrites the other's
    tag = uuid.uuid4().hex[:6]
    username = f"journey{tag}"
    last_name = "Journey-" + "".join(chr(ord("a") + int(c, 16)) for c in tag).capitalize()  # names: letters only
    seeker_name = f"{FIRST_NAME} {last_name}"
    contexts: list[BrowserContext] = []
    timings: list[tuple[str, float]] = []
    clock = time.monotonic()

    def lap(step: str) -> None:
        nonlocal clock
        now = time.monotonic()
        timings.append((step, now - clock))
        print(f"[journey] {step}: {now - clock:.1f}s")
        clock = now

    def new_page() -> Page:
        context = new_context(browser, accept_downloads=True)
        contexts.append(context)
        return context.new_page()

    seeker = new_page()
    consultant = new_page()
    try:
        # 1. Register, sign in, complete the profile -----------------------------------------------------------
        goto(seeker, warm_app.url, "Sign in")
        shots(seeker, "seeker-sign-in")
        open_page(seeker, seeker.get_by_role("link", name="New here? Create an account"), "Register")
        seeker.get_by_label("First name", exact=True).fill(FIRST_NAME)
        seeker.get_by_label("Last name", exact=True).fill(last_name)
        seeker.get_by_label("Email", exact=True).fill(f"{username}@journey.example")
        seeker.get_by_label("Username", exact=True).fill(username)
        seeker.get_by_label("Password", exact=True).fill(SEEKER_PASSWORD)
        seeker.get_by_label("Repeat password", exact=True).fill(SEEKER_PASSWORD)
        shots(seeker, "seeker-register-filled")
        click(seeker, seeker.get_by_role("button", name="Create account"))
        notice(seeker, "Check your inbox to finish creating your account.")
        shots(seeker, "seeker-registered")

        # The account is made when the link in the email is opened (#13): the sender delivers, the seeker clicks.
        token = registration_token(warm_app, f"{username}@journey.example")
        goto(seeker, f"{warm_app.url}/verify-email?token={token}", "Confirm your email")
        click(seeker, seeker.get_by_role("button", name="Create my account"))  # the page asks first (#23.8)
        notice(seeker, f"your account {username} is ready")
        shots(seeker, "seeker-email-confirmed")
        open_page(seeker, seeker.get_by_role("link", name="Sign in now"), "Sign in")
        fill_sign_in(seeker, username, SEEKER_PASSWORD)
        expect(title(seeker, f"Welcome, {seeker_name}")).to_be_visible()
        notice(seeker, "Add at least one licence")
        shots(seeker, "seeker-home-new")
        lap("register and sign in")

        open_page(seeker, "My profile", "My profile")
        expect(seeker.get_by_label("Display name")).to_have_value(seeker_name)
        seeker.get_by_label("Pronouns").fill("she/they")
        seeker.get_by_label("Years in practice").fill("9")
        # Where they live: a consultant must be licensed there (checked by the database at every door).
        choose(seeker, "Where you live (state or province)", "NY — New York", typed="New York")
        licence_expiry = datetime.now(UTC).date() + timedelta(days=730)
        LicenceGrid(seeker).add_licence(HOME, "LCSW", f"NY-{tag.upper()}", licence_expiry)
        shots(seeker, "seeker-profile-filled")
        click(seeker, seeker.get_by_role("button", name="Save profile"))
        notice(seeker, "Profile saved.")
        expect(seeker.get_by_label("Pronouns")).to_have_value("she/they")
        expect(seeker.get_by_label("Years in practice")).to_have_value("9")
        shots(seeker, "seeker-profile-saved")

        open_page(seeker, "Home", f"Welcome, {seeker_name}")
        expect(seeker.get_by_text("Add at least one licence")).to_have_count(0)
        expect(seeker.get_by_text("Say where you live")).to_have_count(0)
        shots(seeker, "seeker-home-profile-complete")
        lap("profile with an NY licence")

        # 2. Declare a friend (potential) and a former supervisor (blocking) -------------------------------------
        # The friend first: after "Add person" the form keeps the kind and the dates just used (reported),
        # and the friendship has no dates.
        open_page(seeker, "My relationships", "My relationships")
        shots(seeker, "seeker-relationships-empty")
        declarations = [
            (FLAGGED, "is or was a friend", None, None),
            (
                BLOCKED,
                "is or was my clinical supervisor",
                date(2019, 9, 1),
                datetime.now(UTC).date() - timedelta(days=365),
            ),
        ]
        for person, kind, since, until in declarations:
            search = seeker.get_by_label("Search consultants by name")
            search.fill(person.display_name.split()[-1])
            search.press("Enter")
            wait_until_idle(seeker)
            choose(seeker, "Consultant", person.display_name)
            choose(seeker, "Relationship", f"This person {kind}")  # the kinds read as sentences (rule_sentence)
            if since:
                type_date(seeker, "From (optional)", since)
            if until:
                type_date(seeker, "Until (leave empty if ongoing)", until)
            click(seeker, seeker.get_by_role("button", name="Add person"))
            notice(seeker, "Added. It will be used in every screening.")
            notice(seeker, f"{person.display_name} {kind}")
        shots(seeker, "seeker-relationships-declared")
        lap("declarations")

        # 3. Search: the friend is flagged, the former supervisor is hidden -------------------------------------
        open_page(seeker, "Find a consultant", "Find a consultant")
        # The jurisdiction comes from the licence just saved.
        expect(combobox(seeker, "Where you live")).to_have_value(f"{HOME} — New York")
        summary = notice(seeker, re.compile(r"consultants? match(?:es)? · page 1 of \d+"))
        pages = int(re.search(r"page 1 of (\d+)", summary.inner_text()).group(1))
        shots(seeker, "seeker-find-results")
        shown: dict[str, str] = {}
        chosen_page = None
        for number in range(1, pages + 1):
            if number > 1:
                click(seeker, seeker.get_by_role("button", name="Next"))
                notice(seeker, re.compile(rf"consultants? match(?:es)? · page {number} of {pages}"))
                shots(seeker, f"seeker-find-results-page-{number}")
            for result in seeker.locator("[class*='st-key-find_card_']").all():
                key = re.search(r"st-key-find_card_([0-9a-f-]{36})", result.get_attribute("class") or "").group(1)
                shown[key] = result.inner_text()
                if key == str(CHOSEN.id):
                    chosen_page = number
        ny_with_room = {
            str(p.id)
            for p in WORLD.values()
            if p.is_consultant and p.accepting and any(lic[0] == HOME for lic in p.licenses)
        }
        names = {WORLD_BY_ID[k].username if k in WORLD_BY_ID else k for k in shown}
        assert str(BLOCKED.id) not in shown, f"the blocked former supervisor was listed: {sorted(names)}"
        assert BLOCKED.display_name not in seeker.locator("[data-testid=stMain]").inner_text()
        assert set(shown) == ny_with_room - {str(BLOCKED.id)}, (
            f"NY results {sorted(names)}; expected every NY consultant with room except {BLOCKED.username}"
        )
        warning = "A possible dual relationship was found"
        assert warning in shown[str(FLAGGED.id)], f"{FLAGGED.username}'s card has no conflict warning"
        assert warning not in shown[str(CHOSEN.id)], f"{CHOSEN.username}'s card shows a conflict warning"
        flagged_card = card(seeker, f"find_card_{FLAGGED.id}")
        flagged_card.scroll_into_view_if_needed()
        expect(flagged_card.get_by_text(warning)).to_be_visible()
        lap("search")

        # 4. Ask a consultant without a conflict --------------------------------------------------------------
        for number in range(pages - 1, (chosen_page or pages) - 1, -1):  # back to the page with their card
            click(seeker, seeker.get_by_role("button", name="Previous"))
            notice(seeker, re.compile(rf"consultants? match(?:es)? · page {number} of {pages}"))
        click(seeker, card(seeker, f"find_card_{CHOSEN.id}").get_by_role("button", name="View profile"))
        expect_drawn(seeker, re.compile(rf"^{re.escape(CHOSEN.display_name)}"))
        expect(seeker.get_by_text(warning)).to_have_count(0)
        shots(seeker, "seeker-consultant-profile")
        choose_many(seeker, "Modalities you would like to work with", "EMDR")
        expect(seeker.get_by_role("group", name="Selected values")).to_have_text(re.compile(r"^\s*EMDR\s*$"))
        seeker.get_by_label("Message").fill(REQUEST_MESSAGE)
        click(seeker, seeker.get_by_role("button", name="Send request"))
        notice(seeker, "Request sent. The consultant will answer in their inbox")
        shots(seeker, "seeker-request-sent")
        lap("request sent")

        # 5. The consultant accepts -------------------------------------------------------------------------
        sign_in(consultant, warm_app.url, CHOSEN.username, DEMO_PASSWORD)
        shots(consultant, "consultant-home")
        open_page(consultant, "Requests", "Requests")
        request = card(consultant, "request_card_", seeker_name)
        expect(request).to_have_count(1)
        expect(request).to_contain_text(REQUEST_MESSAGE)
        shots(consultant, "consultant-requests")
        click(consultant, request.get_by_role("button", name="Accept"))
        notice(consultant, f"You accepted {seeker_name}. An engagement began.")
        shots(consultant, "consultant-request-accepted")
        lap("request accepted")

        # 6. Availability rules, a booking, a confirmation and a late cancellation --------------------------------
        # The demo consultant needs 24 h notice and counts cancellations within 24 h as late, and works
        # weekday mornings only: a slot inside 24 h may not exist (evenings, weekends). A consultant may
        # change both rules; with 2 h notice and a 168 h (one week) threshold, the first open time is
        # always inside the threshold.
        open_page(consultant, "My availability", "My availability")
        expect(consultant.get_by_label("Minimum booking notice (hours)")).to_have_value("24")
        consultant.get_by_label("Minimum booking notice (hours)").fill("2")
        consultant.get_by_label("Late-cancellation threshold (hours)").fill("168")
        click(consultant, consultant.get_by_role("button", name="Save availability"))
        notice(consultant, "Availability saved.")
        expect(consultant.get_by_label("Late-cancellation threshold (hours)")).to_have_value("168")
        shots(consultant, "consultant-availability-saved")

        open_page(seeker, "Appointments", "Appointments")
        expect(seeker.get_by_role("tab", name="Book")).to_have_attribute("aria-selected", "true")
        expect(combobox(seeker, "With")).to_have_value(f"{CHOSEN.display_name} (your consultant)")
        # The week view: one click picks a time; the confirmation names the zones and the late rule first.
        first_time = seeker.locator("[class*='st-key-book_slot_'][class*='_pick_'] button").first
        expect(first_time).to_be_visible(timeout=STEP_TIMEOUT)
        print(f"[journey] first open time offered: {first_time.inner_text()!r}")
        click(seeker, first_time)
        picked = notice(seeker, re.compile(r"counts as a late cancellation on the record"))
        expect(picked).to_contain_text("168 hours")
        shots(seeker, "seeker-appointments-book")
        click(seeker, seeker.get_by_role("button", name="Propose this time"))
        notice(seeker, "Proposed. The other party will confirm or decline.")
        shots(seeker, "seeker-time-proposed")

        open_page(consultant, "Appointments", "Appointments")
        click(consultant, consultant.get_by_role("tab", name="Upcoming"))
        proposed = card(consultant, "appt_card_", seeker_name, "Proposed")
        expect(proposed).to_have_count(1, timeout=STEP_TIMEOUT)
        shots(consultant, "consultant-appointment-proposed")
        click(consultant, proposed.get_by_role("button", name="Confirm"))
        notice(consultant, "Confirmed.")
        shots(consultant, "consultant-appointment-confirmed")

        reopen_page(seeker, "Appointments", "Appointments")
        click(seeker, seeker.get_by_role("tab", name="Upcoming"))
        confirmed = card(seeker, "appt_card_", CHOSEN.display_name, "Confirmed")
        expect(confirmed).to_have_count(1, timeout=STEP_TIMEOUT)
        click(seeker, confirmed.get_by_text("Cancel or move this session"))
        # The rule is stated before any click: what counts as late, and from when.
        # Here the session is less than 168 hours away, so the rule says plainly that any cancellation is late now.
        expect(confirmed).to_contain_text(
            re.compile(r"It starts in [0-9a-z ]+, inside the 168 hours the late rule gives: cancelling"),
            timeout=STEP_TIMEOUT,
        )
        confirmed.get_by_label("Reason (required, shared with the other party)").fill(
            "A family emergency; I'm sorry for the short notice."
        )
        # First try: the app asks to confirm.
        click(seeker, confirmed.get_by_role("button", name="Cancel session"))
        late_warning = notice(
            seeker,
            re.compile(
                r"This is a late cancellation: .* hours before the session, "
                r"inside the 168-hour threshold"
            ),
        )
        print(f"[journey] late-cancellation warning: {late_warning.inner_text()!r}")
        shots(seeker, "seeker-late-cancellation-warning")
        click(seeker, confirmed.get_by_text("I understand this will be recorded as a late cancellation"))
        expect(
            confirmed.get_by_role("checkbox", name="I understand this will be recorded as a late cancellation")
        ).to_be_checked()
        click(seeker, confirmed.get_by_role("button", name="Cancel session"))
        notice(
            seeker,
            re.compile(
                rf"Cancelled with \d+ hours' notice\. {re.escape(CHOSEN.display_name)} "
                r"was notified\."
            ),
        )
        click(seeker, seeker.get_by_role("tab", name="Past"))
        past = notice(seeker, re.compile(rf"{re.escape(CHOSEN.display_name)} · Cancelled by you with [\d.]+ h notice"))
        expect(past).to_contain_text("late")
        shots(seeker, "seeker-cancelled-late")

        reopen_page(consultant, "Appointments", "Appointments")
        click(consultant, consultant.get_by_role("tab", name="Past"))
        theirs = notice(
            consultant,
            re.compile(
                rf"{re.escape(seeker_name)} · Cancelled by {re.escape(seeker_name)} "
                r"with [\d.]+ h notice"
            ),
        )
        expect(theirs).to_contain_text("late")
        shots(consultant, "consultant-sees-late-cancellation")
        badge = consultant.get_by_test_id("stSidebar").get_by_role("link", name=re.compile(r"^Notifications"))
        open_page(consultant, badge, "Notifications")
        notice(
            consultant,
            re.compile(
                rf"{re.escape(seeker_name)} cancelled the session on .*"
                r"\(late: [\d.]+ hours' notice\): A family emergency"
            ),
        )
        shots(consultant, "consultant-notifications")
        lap("booked, confirmed, cancelled late")

        # 7. Termination plan: started and proposed by the consultant, changed by the seeker, signed ------------
        open_page(consultant, "Termination plans", "Termination plans")
        click(consultant, consultant.get_by_role("tab", name="Start a plan"))
        expect(combobox(consultant, "Engagement")).to_have_value(f"{seeker_name} (your client)")
        notice(consultant, "As the consultant you give at least 21 days' and 2 sessions' notice")
        choose(consultant, "Reason", "Consultant's capacity")
        consultant.get_by_label("Other referrals (names, separated by semicolons)").fill(EXTERNAL_REFERRAL)
        shots(consultant, "consultant-plan-start")
        click(consultant, consultant.get_by_role("button", name="Save", exact=True).filter(visible=True))
        notice(consultant, "Draft saved. Propose it when you are ready.")
        click(consultant, consultant.get_by_role("tab", name="Plans"))
        plan = plan_card(consultant, seeker_name, "Draft")
        expect(plan).to_have_count(1, timeout=STEP_TIMEOUT)
        expect(plan).to_contain_text(EXTERNAL_REFERRAL)
        shots(consultant, "consultant-plan-draft")
        click(consultant, plan.get_by_role("button", name="Propose", exact=True))
        notice(consultant, "Proposed and signed by you.")
        shots(consultant, "consultant-plan-proposed")

        open_page(seeker, "Termination plans", "Termination plans")
        plan = plan_card(seeker, CHOSEN.display_name, "Proposed")
        expect(plan).to_have_count(1, timeout=STEP_TIMEOUT)
        expect(plan).to_contain_text("4 sessions remaining")
        expect(plan).to_contain_text(f"stated by {CHOSEN.display_name}")  # who vouched for the dates
        shots(seeker, "seeker-plan-proposed")
        click(seeker, plan.get_by_text("Propose changes"))
        remaining = plan.get_by_label("Sessions remaining")
        expect(remaining).to_have_value("4")
        remaining.fill("3")
        click(seeker, plan.get_by_role("button", name="Save", exact=True))
        notice(seeker, "Saved as a new version, signed by you; it awaits the other signature.")
        plan = plan_card(seeker, CHOSEN.display_name, "Proposed")
        expect(plan).to_contain_text("version 2")
        expect(plan).to_contain_text("3 sessions remaining")
        shots(seeker, "seeker-plan-counter-proposed")

        reopen_page(consultant, "Termination plans", "Termination plans")
        plan = plan_card(consultant, seeker_name, "version 2")
        expect(plan).to_contain_text("3 sessions remaining")
        expect(plan).to_contain_text(f"stated by {seeker_name}")  # the client wrote version 2: the client's ending
        shots(consultant, "consultant-plan-counter-proposal")
        click(consultant, plan.get_by_role("button", name="Sign version 2"))
        notice(consultant, "Signed: the plan is agreed by both of you.")
        expect(plan_card(consultant, seeker_name, "Agreed")).to_have_count(1, timeout=STEP_TIMEOUT)
        shots(consultant, "consultant-plan-agreed")

        reopen_page(seeker, "Termination plans", "Termination plans")
        expect(plan_card(seeker, CHOSEN.display_name, "Agreed")).to_have_count(1, timeout=STEP_TIMEOUT)
        shots(seeker, "seeker-plan-agreed")
        lap("termination plan agreed")

        # 8. Both download their data --------------------------------------------------------------------------
        mine = download_my_data(seeker, shots, "seeker")
        assert mine["account"]["username"] == username
        assert mine["profile"]["pronouns"] == "she/they" and mine["profile"]["years_in_practice"] == 9
        assert [lic["jurisdiction"] for lic in mine["licenses"]] == [HOME]
        declared = {(d["counterpart_id"], d["kind"]) for d in mine["declared_relationships"]}
        assert declared == {(str(BLOCKED.id), "supervisor"), (str(FLAGGED.id), "friend")}, declared
        late = [a for a in mine["appointments"] if a["status"] == "cancelled"]
        assert len(late) == 1 and late[0]["late"] is True, mine["appointments"]
        assert sorted(v["version"] for v in mine["termination_plan_versions"]) == [1, 2]
        assert [p["status"] for p in mine["termination_plans"]] == ["agreed"]

        theirs_data = download_my_data(consultant, shots, "consultant")
        assert theirs_data["account"]["username"] == CHOSEN.username
        seeker_id = mine["profile"]["id"]
        assert any(a["client_id"] == seeker_id and a["late"] for a in theirs_data["appointments"])
        assert all(d["declarer_id"] != seeker_id for d in theirs_data["declared_relationships"]), (
            "the consultant's export holds the seeker's private declarations"
        )
        assert {s["version"] for s in theirs_data["termination_signatures"]} >= {1, 2}
        lap("data downloaded")
    except BaseException:
        for context in contexts:
            for page in context.pages:
                try:
                    path = shots(page, "FAILED", idle=False)
                    print(f"[journey] failure screenshot: {path}")
                    print(f"[journey] what {path.name} saw: {activity(page)}")
                except Exception as exc:  # noqa: BLE001 - the original failure matters more
                    print(f"[journey] no failure screenshot: {exc}")
        print(f"[journey] app log tail:\n{warm_app.log_tail(40)}")
        raise
    finally:
        for context in contexts:
            context.close()
        total = sum(seconds for _, seconds in timings)
        print(f"[journey] {len(shots.paths)} screenshots in {SHOTS}; steps took {total:.1f}s")
