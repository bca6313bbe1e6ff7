"""Dual-relationship screening: a scenario table over every rule, both directions,
inside and outside its window; shared affiliations; indirect ties; and what each
party is shown. Each scenario runs in its own rolled-back transaction."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest

from tests.db_support import refused

TODAY = datetime.now(UTC).date()


def years_ago(n: float) -> date:
    return TODAY - timedelta(days=int(365.25 * n))


class Pair:
    """A seeker and a consultant (and helpers) inside the test transaction."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn
        self.as_service()
        self.seeker = self.member("Sasha Seeker", consultant=False)
        self.consultant = self.member("Cora Consultant", consultant=True)

    def as_service(self) -> None:
        self.conn.execute("select set_config('role', 'service_role', true)")

    def as_user(self, user_id: str | None) -> None:
        role = "portal_member" if user_id else "anon"
        claims = {"sub": user_id, "role": role} if user_id else {"role": "anon"}
        self.conn.execute(
            "select set_config('role', %s, true), set_config('request.jwt.claims', %s, true)",
            (role, json.dumps(claims)),
        )

    def member(self, name: str, *, consultant: bool) -> str:
        pid = str(uuid.uuid4())
        self.conn.execute(
            "insert into public.profiles (id, display_name, is_consultant, fee_usd) values (%s, %s, %s, 100)",
            (pid, name, consultant),
        )
        self.conn.execute(
            "insert into private.credentials (user_id, username, email, password_hash) values (%s, %s, %s, '$2b$12$x')",
            (pid, f"u{pid[:12]}", f"{pid[:8]}@clinic.example"),
        )
        return pid

    def email(self, pid: str) -> str:
        return f"{pid[:8]}@clinic.example"

    def declare(
        self,
        declarer: str,
        counterpart: str | None,
        kind: str,
        *,
        ends_on: date | None = None,
        starts_on: date | None = None,
        by_email: str | None = None,
        name: str | None = None,
    ) -> None:
        self.conn.execute(
            """insert into public.declared_relationships (declarer_id, counterpart_id, counterpart_name,
                 counterpart_email, kind, starts_on, ends_on) values (%s, %s, %s, %s, %s, %s, %s)""",
            (
                declarer,
                counterpart,
                name or ("Someone" if counterpart is None else None),
                by_email,
                kind,
                starts_on,
                ends_on,
            ),
        )

    def affiliate(
        self,
        member: str,
        organisation: str,
        kind: str,
        starts_on: date | None,
        ends_on: date | None,
        domain: str | None = None,
    ) -> None:
        self.conn.execute(
            """insert into public.affiliations (member_id, organisation, kind, starts_on, ends_on,
                               email_domain) values (%s, %s, %s, %s, %s, %s)""",
            (member, organisation, kind, starts_on, ends_on, domain),
        )

    def engage(self, consultant: str, client: str) -> None:
        request = self.conn.execute(
            "insert into public.consultation_requests (seeker_id, consultant_id, message, "
            "status) values (%s, %s, 'hi', 'accepted') returning id",
            (client, consultant),
        ).fetchone()[0]
        self.conn.execute(
            "insert into public.engagements (request_id, seeker_id, consultant_id) values (%s, %s, %s)",
            (request, client, consultant),
        )

    def level(self) -> str:
        """The live level: what search, the profile and Check for conflicts see before any request."""
        self.conn.execute("set local role none")  # the test's own session user, to reach private functions
        level = self.conn.execute(
            "select level from private.conflict_levels(%s, array[%s]::uuid[])", (self.seeker, self.consultant)
        ).fetchone()[0]
        self.as_service()
        return level

    def request(self) -> str:
        """The seeker asks the consultant: the matched screening runs once and is kept with the request."""
        self.conn.execute("set local role none")  # as a migration or the demo would: no member's claims
        self.conn.execute("select set_config('request.jwt.claims', '', true)")
        request = self.conn.execute(
            "insert into public.consultation_requests (seeker_id, consultant_id, message) "
            "values (%s, %s, 'hello') returning id",
            (self.seeker, self.consultant),
        ).fetchone()[0]
        self.conn.execute("select private.take_request_screening(%s)", (request,))
        self.as_service()
        return str(request)

    def witnessed_level(self) -> str:
        """The pair's level once a request has been sent (live reasons and what the request witnessed)."""
        self.conn.execute("set local role none")
        level = self.conn.execute(
            "select level from private.pair_level(%s, %s)", (self.seeker, self.consultant)
        ).fetchone()[0]
        self.as_service()
        return level

    def view(self, viewer: str) -> dict:
        other = self.consultant if viewer == self.seeker else self.seeker
        self.as_user(viewer)
        try:
            return self.conn.execute("select public.check_conflicts(%s)", (other,)).fetchone()[0]
        finally:
            self.as_service()


@pytest.fixture
def pair(embedded_db):
    # As the cluster superuser, so the test can both act as each API role and call the
    # private screening functions that no API role may execute.
    with psycopg.connect(embedded_db.conninfo("postgres")) as conn:
        yield Pair(conn)
        conn.rollback()


RULES = {  # kind -> (severity, window in years: None = ever, 0 = only while current)
    "supervisor": ("blocking", 2),
    "supervisee": ("blocking", 2),
    "evaluator": ("blocking", 2),
    "evaluatee": ("blocking", 2),
    "employer": ("blocking", 2),
    "employee": ("blocking", 2),
    "family": ("blocking", None),
    "romantic": ("blocking", None),
    "former_romantic": ("blocking", None),
    "business_partner": ("blocking", 0),
    "former_client": ("blocking", None),
    "former_therapist": ("blocking", None),
    "colleague": ("potential", 2),
    "friend": ("potential", 2),
    "training_cohort": ("potential", 3),
    "referral_partner": ("potential", 2),
    "committee_board": ("potential", 1),
}


def scenarios():
    for kind, (severity, window) in RULES.items():
        for direction in ("seeker_declares", "consultant_declares"):
            yield pytest.param(kind, direction, None, severity, id=f"{kind}-{direction}-current")
            inside = years_ago(0.5) if window != 0 else TODAY + timedelta(days=30)
            yield pytest.param(kind, direction, inside, severity, id=f"{kind}-{direction}-inside")
            if window is None:
                yield pytest.param(kind, direction, years_ago(30), severity, id=f"{kind}-{direction}-ever")
            else:
                outside = years_ago(window + 0.5) if window else TODAY - timedelta(days=1)
                yield pytest.param(kind, direction, outside, "none", id=f"{kind}-{direction}-outside")


@pytest.mark.parametrize("kind,direction,ends_on,expected", list(scenarios()))
def test_declared_relationship_scenarios(pair, kind, direction, ends_on, expected):
    declarer, other = (
        (pair.seeker, pair.consultant) if direction == "seeker_declares" else (pair.consultant, pair.seeker)
    )
    pair.declare(declarer, other, kind, ends_on=ends_on, starts_on=years_ago(40))
    assert pair.level() == expected
    assert_disclosure(pair, declarer, kind, ends_on, expected)


def assert_disclosure(pair: Pair, declarer: str, kind: str, ends_on: date | None, expected: str) -> None:
    """The declarer sees their reason; the other side sees only that a conflict exists."""
    other = pair.consultant if declarer == pair.seeker else pair.seeker
    mine, theirs = pair.view(declarer), pair.view(other)
    assert mine["level"] == theirs["level"] == expected
    if expected == "none":
        assert mine["reasons"] == theirs["reasons"] == []
        return
    assert [r["kind"] for r in mine["reasons"] if r["mine"]] == [kind]
    assert [r["mine"] for r in theirs["reasons"]] == [False]
    hidden = json.dumps(theirs)
    label = pair.conn.execute("select label from public.conflict_rules where kind = %s", (kind,)).fetchone()[0]
    for secret in [kind, label, str(years_ago(40))] + ([str(ends_on)] if ends_on else []):
        assert secret not in hidden, secret
    assert "information you cannot see" in hidden


def test_declaration_by_email_matches_a_member_once_a_request_is_sent(pair):
    pair.declare(pair.seeker, None, "family", by_email=pair.email(pair.consultant).upper(), name="My cousin")
    # Live, an email match would confirm a member's private login email: it counts only at a request.
    assert pair.level() == "none"
    assert pair.view(pair.seeker)["reasons"] == []
    pair.request()
    assert pair.witnessed_level() == "blocking"
    assert "My cousin" not in json.dumps(pair.view(pair.consultant))


def test_name_only_declaration_of_someone_else_is_no_conflict(pair):
    pair.declare(pair.seeker, None, "family", name="Cora Consultant")
    assert pair.level() == "none"


@pytest.mark.parametrize(
    "seeker_org,consultant_org,kind,seeker_dates,consultant_dates,expected",
    [
        ("St. Mary's Hospital", "Saint Marys hospital", "hospital", (4, 1), (3, None), "potential"),
        ("St. Mary's Hospital", "Saint Marys hospital", "hospital", (12, 10), (8, 5), "none"),  # no overlap
        ("St. Mary's Hospital", "Saint Marys hospital", "hospital", (10, 5), (9, 6), "none"),  # too long ago
        ("Northside Counselling", "Northside Counselling, LLC", "practice", (2, None), (1, None), "potential"),
        ("Lakeside University", "Lakeside University", "university", (5, 2.5), (4, 2), "potential"),  # 3-year window
        (
            "American Counseling Association",
            "American Counseling Association",
            "association",
            (9, None),
            (9, None),
            "none",
        ),  # too large
        ("State Board of Psychology", "State Board of Psychology", "board", (3, 0.5), (2, 0.5), "potential"),
        ("State Board of Psychology", "State Board of Psychology", "board", (5, 1.5), (4, 1.5), "none"),
    ],
)
def test_shared_affiliation_scenarios(pair, seeker_org, consultant_org, kind, seeker_dates, consultant_dates, expected):
    def dates(span):
        return years_ago(span[0]), (years_ago(span[1]) if span[1] is not None else None)

    pair.affiliate(pair.seeker, seeker_org, kind, *dates(seeker_dates))
    pair.affiliate(pair.consultant, consultant_org, kind, *dates(consultant_dates))
    assert pair.level() == "none"  # a shared affiliation is matched only when a request is sent
    pair.request()
    assert pair.witnessed_level() == expected
    for viewer in (pair.seeker, pair.consultant):
        view = json.dumps(pair.view(viewer))
        # Drawn from both sides' data: neither is told the organisation or the dates.
        for secret in (seeker_org, consultant_org, "St Mary", "hospital", str(years_ago(seeker_dates[0]))):
            assert secret.lower() not in view.lower(), secret


def test_shared_email_domain_matches_different_names(pair):
    pair.affiliate(pair.seeker, "Riverbend Group", "practice", years_ago(1), None, "riverbend.org")
    pair.affiliate(pair.consultant, "RBG Therapy Collective", "practice", years_ago(2), None, "riverbend.org")
    pair.request()
    assert pair.witnessed_level() == "potential"


def test_indirect_tie_is_found_and_never_names_the_third_person(pair):
    sibling = pair.member("Sam Sibling", consultant=False)
    pair.declare(pair.seeker, None, "family", by_email=pair.email(sibling), name="Sam Sibling")
    pair.engage(pair.consultant, sibling)
    assert pair.level() == "none"  # never live: that would tell the seeker who the consultant treats
    pair.request()
    assert pair.witnessed_level() == "potential"
    for viewer in (pair.seeker, pair.consultant):
        view = json.dumps(pair.view(viewer))
        assert "Sibling" not in view and sibling not in view and "family" not in view


def test_indirect_tie_in_the_other_direction(pair):
    partner = pair.member("Pat Partner", consultant=False)
    pair.declare(pair.consultant, partner, "romantic")
    pair.engage(pair.seeker, partner)  # the seeker, a clinician too, treats the consultant's partner
    assert pair.level() == "none"
    pair.request()
    assert pair.witnessed_level() == "potential"


def test_waiver_needs_both_signatures_and_lapses_when_the_reasons_change(pair):
    pair.declare(pair.seeker, pair.consultant, "friend")
    assert pair.level() == "potential"
    pair.as_user(pair.seeker)
    pair.conn.execute(
        "select public.sign_waiver(%s, %s)", (pair.consultant, "We discussed our friendship and agreed on boundaries.")
    )
    pair.as_service()
    assert pair.level() == "potential"
    pair.as_user(pair.consultant)
    with pytest.raises(psycopg.errors.RaiseException, match="at least 20 characters"):
        with pair.conn.transaction():
            pair.conn.execute("select public.sign_waiver(%s, %s)", (pair.seeker, "ok"))
    pair.conn.execute(
        "select public.sign_waiver(%s, %s)",
        (pair.seeker, "Friendship is distant; we consulted a peer and documented it."),
    )
    pair.as_service()
    assert pair.level() == "waived"
    pair.declare(pair.consultant, pair.seeker, "referral_partner")
    assert pair.level() == "potential"  # a new reason: the old waiver does not cover it


def test_blocking_conflicts_cannot_be_waived(pair):
    pair.declare(pair.consultant, pair.seeker, "former_therapist")
    pair.as_user(pair.seeker)
    with pytest.raises(psycopg.errors.RaiseException, match="cannot be waived"):
        with pair.conn.transaction():
            pair.conn.execute("select public.sign_waiver(%s, %s)", (pair.consultant, "x" * 40))


def test_every_screening_is_logged_without_reasons(pair):
    pair.declare(pair.consultant, pair.seeker, "colleague")
    before = pair.conn.execute("select count(*) from public.screening_log").fetchone()[0]
    pair.view(pair.seeker)
    pair.view(pair.consultant)
    rows = pair.conn.execute("select * from public.screening_log order by id desc limit 2").fetchall()
    assert pair.conn.execute("select count(*) from public.screening_log").fetchone()[0] == before + 2
    columns = [d.name for d in pair.conn.execute("select * from public.screening_log limit 0").description]
    assert set(columns) == {
        "id",
        "checked_by",
        "seeker_id",
        "consultant_id",
        "context",
        "level",
        "screened",
        "flagged",
        "created_at",
    }
    assert {r[columns.index("level")] for r in rows} == {"potential"}
    pair.as_user(pair.seeker)
    log = pair.conn.execute("select * from public.my_screening_log()").fetchall()
    assert len(log) >= 2
    assert refused(pair.conn, "update public.screening_log set level = 'none'") == "42501"


@pytest.mark.parametrize("who", ["stranger", "counterpart", "anon"])
def test_nobody_else_reads_declarations_logs_or_screening_internals(pair, who):
    pair.declare(pair.seeker, pair.consultant, "friend")
    pair.affiliate(pair.seeker, "Hidden Practice", "practice", years_ago(1), None)
    pair.view(pair.seeker)
    stranger = pair.member("Stan Stranger", consultant=False)
    pair.as_user({"stranger": stranger, "counterpart": pair.consultant, "anon": None}[who])
    for table in ("public.declared_relationships", "public.affiliations", "public.conflict_waivers"):
        try:
            with pair.conn.transaction():
                rows = pair.conn.execute(f"select * from {table}").fetchall()
        except psycopg.errors.InsufficientPrivilege:
            rows = []
        assert rows == [], table
    for table in ("public.screening_log", "public.audit_log"):
        assert refused(pair.conn, f"select * from {table}") == "42501", table
    for call in (
        "select * from private.conflict_reasons(%s, array[%s]::uuid[])",
        "select * from private.matched_conflict_reasons(%s, array[%s]::uuid[])",
        "select * from private.pair_reasons(%s, %s)",
        "select * from private.pair_level(%s, %s)",
        "select * from private.conflict_levels(%s, array[%s]::uuid[])",
        "select * from public.screen_candidates(%s, array[%s]::uuid[], null)",
    ):
        assert refused(pair.conn, call, (pair.seeker, pair.consultant)) == "42501", call


def test_a_declaration_is_told_back_in_the_declarers_own_voice():
    from portal.screening import as_you_declared

    assert as_you_declared("was in my training cohort") == "was in your training cohort"
    assert (
        as_you_declared("evaluates or evaluated me (e.g. licensure, training)")
        == "evaluates or evaluated you (e.g. licensure, training)"
    )
    assert as_you_declared("I evaluate or evaluated them") == "you evaluate or evaluated them"
    assert as_you_declared("is family") == "is family"
    from portal.screening import declared_sentence

    assert (
        declared_sentence("was in my training cohort", "2019-01-01 – now")
        == "You declared that this person was in your training cohort (2019-01-01 – now)."
    )
    assert (
        declared_sentence("I evaluate or evaluated them", "now")
        == "You declared that you evaluate or evaluated this person (now)."
    )
