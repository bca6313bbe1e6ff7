"""More than one machine (issue 25, item 4): two app replicas behind nginx with session affinity and two mail
senders, against ONE database, on the production path.

The database is conftest's supabase_stack: PostgREST on the Postgres 15 that `supabase db push` deployed, behind
the /rest/v1 gateway; both replicas run in Supabase mode with the same environment (tests/app_server.py), behind
the balancer built from deploy/nginx/ (tests/replicas.py); the senders run portal-mailer@.service's command.

- A new browser gets a replica from the balancer and a cookie naming it; every later request goes there.
- In Chromium a seeker signs in through the balancer and, across reruns and pages on one replica, asks a
  consultant for consultation; the consultant, pinned to the other replica, finds the request and accepts it; the
  seeker, still in the same session on the first replica, sees the answer; moved to the other replica (what a
  replica's restart does) the seeker is still signed in.
- Every request (websockets too) went to the replica its cookie named: nginx's access log says where it connected.
- Two senders deliver the outbox at once (the request's and the answer's emails and a burst of notices): each
  email exactly once.

(The change is a request rather than a booking: on Postgres 15 and 17 a member's booking is refused today, see
private.calendars_follow_the_session, a deferred trigger that runs as the member at commit there.)

The members are made with fresh usernames in the shared database and retired when the module ends.
"""

from __future__ import annotations

import secrets
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack

import httpx
import psycopg
import pytest

from portal.db.supabase_backend import SupabaseBackend
from portal.db.tokens import TokenMinter
from portal.email_messages import UID_DOMAIN
from tests.app_server import (
    STEP_TIMEOUT,
    WELCOME,
    card,
    click,
    goto,
    new_context,
    notice,
    open_page,
    poll_until,
    reload,
    running_app,
    sign_in,
    wait_until_idle,
)
from tests.replicas import (
    AFFINITY_COOKIE,
    RECIPE_REPLICAS,
    REPLICA_HEADER,
    Balancer,
    Member,
    make_member,
    retire,
    running_senders,
)

try:
    from playwright.sync_api import Browser, Page, expect
except ImportError:  # reported by require_tool in chromium_browser()
    pass

pytestmark = pytest.mark.browser

PASSWORD = "Good-pass-123"
SEEKER_NAME, CONSULTANT_NAME = "Robin Hale", "Dana Rivera"
REQUEST_MESSAGE = "Looking for consultation on a complex trauma case, mornings if you can."
BURST = 40  # notices queued at once for the two senders to race over
DRAIN_TIMEOUT = 120_000  # ms: bounded wait for the senders, not a timing assertion


@pytest.fixture(scope="module")
def stack(browser: Browser, supabase_stack: dict) -> dict:
    """The shared Supabase-like stack; the browser first, so that nothing starts when Chromium is missing."""
    return supabase_stack


@pytest.fixture(scope="module")
def balancer(stack: dict) -> Iterator[Balancer]:
    """Two replicas with one environment (the cookie keys too, as deploy/portal.env.example says) behind nginx."""
    environment = {
        **stack["app_environment"],
        "STREAMLIT_SERVER_COOKIE_SECRET": secrets.token_urlsafe(32),
        "PORTAL_BEHIND_GATEWAY": "1",
    }
    with ExitStack() as running:
        replicas = {
            name: running.enter_context(running_app(f"app-server-{name}.log", f"replicas {name}", environment))
            for name in RECIPE_REPLICAS
        }
        balancer = Balancer(replicas)
        running.callback(balancer.stop)
        print(f"[replicas] balancer on {balancer.url}: " + ", ".join(f"{n} :{r.port}" for n, r in replicas.items()))
        yield balancer


@pytest.fixture(scope="module")
def members(stack: dict) -> Iterator[tuple[Member, Member]]:
    """A seeker and a consultant (New York) who do not work together yet, made through the gateway (PostgREST) as
    the app's own calls are; retired from the shared database when the module ends."""
    env, owner = stack["app_environment"], stack["database"].owner_conninfo
    backend = SupabaseBackend(env["SUPABASE_URL"], env["SUPABASE_KEY"], TokenMinter(secret=env["SUPABASE_JWT_SECRET"]))
    seeker = make_member(backend, owner, SEEKER_NAME, PASSWORD, consultant=False)
    consultant = make_member(backend, owner, CONSULTANT_NAME, PASSWORD, consultant=True)
    try:
        yield seeker, consultant
    finally:
        retire(owner, [seeker.id, consultant.id])


# ---------------------------------------------------------------------------------------------------------------


def pinned_to(response: httpx.Response) -> str:
    """The replica a response's Set-Cookie pins the browser to; it is also the one that answered (the header)."""
    cookie = response.cookies.get(AFFINITY_COOKIE)
    assert cookie == response.headers[REPLICA_HEADER], (cookie, response.headers)
    return cookie


def test_the_balancer_pins_each_new_browser_to_a_replica_it_chose(balancer: Balancer) -> None:
    chosen = []
    # Every request of this test carries its own mark, so the access log's lines are told apart from any other
    # (a readiness probe whose line nginx writes a moment later, say).
    mark = f"pin-{uuid.uuid4().hex[:8]}"
    for _ in range(16):  # new browsers: no cookie (a fresh client each, its cookie jar empty)
        replica = pinned_to(httpx.get(f"{balancer.url}/_stcore/health?{mark}", timeout=10))
        chosen.append(replica)
        with httpx.Client(base_url=balancer.url, timeout=10, cookies={AFFINITY_COOKIE: replica}) as browser:
            for path in ("/", "/_stcore/health", "/_stcore/host-config"):
                again = browser.get(f"{path}?{mark}")
                assert again.status_code == 200 and pinned_to(again) == replica, path
    # A cookie naming a replica that is gone counts as none: a replica is chosen again.
    gone = httpx.get(f"{balancer.url}/_stcore/health?{mark}", cookies={AFFINITY_COOKIE: "portal_z"}, timeout=10)
    assert pinned_to(gone) in RECIPE_REPLICAS
    # Both replicas take new browsers (each of the 16 chose at random: all on one has odds 2 in 65,536).
    assert set(chosen) == set(RECIPE_REPLICAS), Counter(chosen)
    # And the replica named is the one that served: nginx connected to that replica's port, every time.
    served = [line for line in balancer.served() if mark in line.request]
    assert len(served) == 16 * 4 + 1
    for line in served:
        assert balancer.replica_of_port(line.upstream_port) == line.replica, line
        assert line.cookie in (None, "portal_z") or line.cookie == line.replica, line


def test_members_on_two_replicas_share_one_database_and_each_email_goes_out_once(
    browser: Browser, balancer: Balancer, members: tuple[Member, Member], stack: dict
) -> None:
    seeker_member, consultant_member = members
    addresses = (seeker_member.address, consultant_member.address)
    owner = stack["database"].owner_conninfo
    logged_before = len(balancer.served())  # the lines of this test only, below
    contexts = []
    answered: dict[Page, list[str]] = {}  # per page, the replica that answered each document it loaded

    def new_page(replica: str | None = None) -> Page:
        """A browser of its own; `replica` pins it before its first request (a cookie the balancer set earlier)."""
        context = new_context(browser)
        contexts.append(context)
        if replica:
            context.add_cookies([{"name": AFFINITY_COOKIE, "value": replica, "url": balancer.url}])
        page = context.new_page()
        answered[page] = []

        def loaded(response) -> None:
            if response.request.is_navigation_request() and response.frame == page.main_frame:
                answered[page].append(response.headers.get(REPLICA_HEADER))

        page.on("response", loaded)
        return page

    def documents_from(page: Page, replica: str, since: int = 0) -> None:
        """Every document the page loaded (since the `since`-th) came from `replica`, and its cookie names it."""
        assert answered[page][since:] and set(answered[page][since:]) == {replica}, (answered[page], replica)
        cookie = next(c["value"] for c in page.context.cookies() if c["name"] == AFFINITY_COOKIE)
        assert cookie == replica, (cookie, replica)

    with running_senders(2, stack["app_environment"], balancer.url) as senders:
        try:
            # The seeker: a replica the balancer chose, then sign-in; the consultant's page (its address, as a
            # search result's link opens it), a request sent, and Requests: reruns and pages on that replica.
            seeker = new_page()
            sign_in(seeker, balancer.url, seeker_member.username, PASSWORD)
            mine = answered[seeker][0]
            assert mine in RECIPE_REPLICAS, answered[seeker]
            documents_from(seeker, mine)
            other = next(name for name in RECIPE_REPLICAS if name != mine)
            print(f"[replicas] the seeker is on {mine}, the consultant will be on {other}")
            goto(seeker, f"{balancer.url}/consultant?id={consultant_member.id}", CONSULTANT_NAME)
            documents_from(seeker, mine)
            seeker.get_by_label("Message", exact=True).fill(REQUEST_MESSAGE)
            click(seeker, seeker.get_by_role("button", name="Send request"))
            notice(seeker, "Request sent.")
            open_page(seeker, "Requests", "Requests")
            expect(card(seeker, "sent_card_", CONSULTANT_NAME, "Waiting for an answer")).to_have_count(
                1, timeout=STEP_TIMEOUT
            )

            # The consultant, pinned to the other replica, finds the request there (one database behind both) and
            # accepts it.
            consultant = new_page(other)
            sign_in(consultant, balancer.url, consultant_member.username, PASSWORD)
            documents_from(consultant, other)
            open_page(consultant, "Requests", "Requests")
            received = card(consultant, "request_card_", SEEKER_NAME, REQUEST_MESSAGE)
            expect(received).to_have_count(1, timeout=STEP_TIMEOUT)
            click(consultant, received.get_by_role("button", name="Accept"))
            notice(consultant, f"You accepted {SEEKER_NAME}. An engagement began.")

            # Back on the seeker's replica, in the same session: the answer given on the other one.
            open_page(seeker, "Home", WELCOME)
            open_page(seeker, "Requests", "Requests")
            expect(card(seeker, "sent_card_", CONSULTANT_NAME, "Accepted")).to_have_count(1, timeout=STEP_TIMEOUT)
            documents_from(seeker, mine)

            # The seeker's replica restarts (here: the browser is sent to the other one): a new Streamlit session
            # there, still signed in (the sign-in cookie is signed with the one PORTAL_COOKIE_KEY; its session is
            # in the database).
            seeker.context.add_cookies([{"name": AFFINITY_COOKIE, "value": other, "url": balancer.url}])
            moved = len(answered[seeker])
            reload(seeker, "Requests")
            documents_from(seeker, other, since=moved)
            expect(card(seeker, "sent_card_", CONSULTANT_NAME, "Accepted")).to_have_count(1, timeout=STEP_TIMEOUT)
            wait_until_idle(seeker)
        finally:
            for context in contexts:
                context.close()

        # A burst for the two senders to race over, besides the request's and the answer's emails.
        with psycopg.connect(owner) as conn:
            for n in range(BURST):
                conn.execute(
                    "insert into public.notifications (user_id, kind, message, page) "
                    "values (%s, 'request', %s, 'requests')",
                    ((seeker_member.id, consultant_member.id)[n % 2], f"Notice number {n}."),
                )
        outbox = wait_until_sent(owner, (seeker_member.id, consultant_member.id), senders)
    for sender in senders:
        assert sender.process.returncode == 0, f"sender {sender.number} exited badly:\n{sender.log_tail()}"

    # Each outbox row reached its member exactly once, whichever sender took it: the request, the answer, the burst.
    delivered = Counter(
        message["Message-ID"] for sender in senders for message in sender.inbox.messages if message["To"] in addresses
    )
    assert delivered == Counter(f"<outbox-{row_id}@{UID_DOMAIN}>" for row_id, _ in outbox)
    assert len(outbox) >= BURST + 2, outbox
    shares = {s.number: sum(m["To"] in addresses for m in s.inbox.messages) for s in senders}
    print(f"[replicas] {len(outbox)} emails; delivered by each sender: {shares}")

    # Affinity held for every request: the replica the cookie named is the one nginx connected to, websockets too.
    served = wait_for_websockets(balancer, {mine: 2, other: 2})  # the seeker's two; the consultant's, the seeker's
    for line in served[logged_before:]:
        assert balancer.replica_of_port(line.upstream_port) == line.replica, line
        assert line.cookie is None or line.cookie == line.replica, line


def wait_until_sent(owner_conninfo: str, recipients: tuple[str, ...], senders) -> list[tuple[int, str]]:
    """The members' outbox rows (id, status) once none is waiting any more; bounded, with the senders' logs. Each
    try is a query; a sender that exits ends the wait at once."""
    rows: list[tuple[int, str]] = []

    def failure(why: str) -> AssertionError:
        logs = "\n".join(f"--- sender {s.number}\n{s.log_tail()}" for s in senders)
        return AssertionError(f"{why}: {Counter(status for _, status in rows)}\n{logs}")

    with psycopg.connect(owner_conninfo, autocommit=True) as conn:

        def delivered() -> list[tuple[int, str]] | None:
            nonlocal rows
            if any(s.process.poll() is not None for s in senders):
                raise failure("a sender exited before the outbox was delivered")
            rows = conn.execute(
                "select id, status from private.outbox where recipient_id = any (%s::uuid[]) order by id",
                (list(recipients),),
            ).fetchall()
            if len(rows) < BURST or any(status in ("queued", "sending") for _, status in rows):
                return None
            assert {status for _, status in rows} == {"sent"}, rows
            return rows

        try:
            return poll_until(delivered, what="the outbox was not delivered", timeout=DRAIN_TIMEOUT)
        except AssertionError as timed_out:
            if not str(timed_out).startswith("the outbox was not delivered within"):
                raise
            raise failure(str(timed_out)) from None


def wait_for_websockets(balancer: Balancer, expected: dict[str, int], timeout: float = 15_000):
    """The access log once it holds the websockets expected per replica cookie (nginx writes a websocket's line
    when the socket closes); fails, listing them, when it never does within `timeout` ms."""
    streams: Counter = Counter()

    def logged():
        nonlocal streams
        served = balancer.served()
        streams = Counter(line.cookie for line in served if line.request.startswith("GET /_stcore/stream"))
        return served if all(streams[cookie] >= count for cookie, count in expected.items()) else None

    try:
        return poll_until(logged, what="the websockets were not all logged", timeout=timeout)
    except AssertionError as timed_out:
        raise AssertionError(f"{timed_out}: per replica cookie {dict(streams)}, expected at least {expected}") from None
