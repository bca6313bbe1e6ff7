"""The deterministic demo world loaded into an empty local database.

Local mode only: Supabase projects never receive these accounts. Every demo
account signs in with DEMO_PASSWORD (printed in the README for local mode).
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import bcrypt
import psycopg

DEMO_PASSWORD = "Portal-demo-2026"
DEMO_NAMESPACE = uuid.UUID("6f1c1d1e-7a52-4c1b-9a57-2f0c5d7e9b10")
SEED = 2026
CONSULTANTS = 48
SEEKERS = 12

FIRST = [
    "Maria",
    "James",
    "Aisha",
    "Daniel",
    "Priya",
    "Noah",
    "Sofia",
    "Ethan",
    "Mei",
    "Lucas",
    "Amara",
    "Oliver",
    "Yuki",
    "Gabriel",
    "Leila",
    "Samuel",
    "Ines",
    "Jonah",
    "Farah",
    "Mateo",
    "Hannah",
    "Kwame",
    "Elena",
    "Ravi",
    "Chloe",
    "Tomas",
    "Nadia",
    "Owen",
    "Zara",
    "Felix",
]
LAST = [
    "Chen",
    "Okafor",
    "Garcia",
    "Nguyen",
    "Cohen",
    "Patel",
    "Rossi",
    "Kim",
    "Dubois",
    "Haddad",
    "Novak",
    "Silva",
    "Tanaka",
    "Murphy",
    "Schmidt",
    "Khan",
    "Lopez",
    "Walker",
    "Ivanova",
    "Mensah",
    "Tremblay",
    "Singh",
    "Bennett",
    "Moreau",
    "Alvarez",
    "Park",
    "Levi",
    "Adeyemi",
    "Fischer",
    "Brooks",
]
PRONOUNS = ["she/her", "he/him", "they/them", "she/they", "he/they", None]

# Jurisdiction -> (time zone, cities): several US states and Canadian provinces.
PLACES = {
    "NY": ("America/New_York", ["New York", "Brooklyn", "Albany"]),
    "CA": ("America/Los_Angeles", ["San Francisco", "Los Angeles", "Oakland"]),
    "IL": ("America/Chicago", ["Chicago", "Evanston"]),
    "TX": ("America/Chicago", ["Austin", "Houston"]),
    "MA": ("America/New_York", ["Boston", "Cambridge"]),
    "WA": ("America/Los_Angeles", ["Seattle", "Tacoma"]),
    "CO": ("America/Denver", ["Denver", "Boulder"]),
    "FL": ("America/New_York", ["Miami", "Tampa"]),
    "ON": ("America/Toronto", ["Toronto", "Ottawa"]),
    "BC": ("America/Vancouver", ["Vancouver", "Victoria"]),
    "QC": ("America/Toronto", ["Montreal", "Quebec City"]),
    "AB": ("America/Edmonton", ["Calgary", "Edmonton"]),
}
US_TYPES = ["LCSW", "LPC", "LMFT", "LMHC", "Psychologist (PhD)", "Psychologist (PsyD)", "Psychiatrist (MD/DO)"]
CA_TYPES = {"ON": "RP (Ontario)", "BC": "RCC (BC)", "QC": "Psychologist (Canada)", "AB": "Psychologist (Canada)"}
LANGUAGE_MIX = [
    ["en"],
    ["en"],
    ["en"],
    ["en", "es"],
    ["en", "fr"],
    ["en", "zh"],
    ["en", "he"],
    ["en", "pt"],
    ["en", "ko"],
    ["en", "ar"],
    ["fr", "en"],
    ["en", "hi", "pa"],
    ["en", "asl"],
]
MODALITY_BODIES = {
    "cbt": "Beck Institute",
    "dbt": "Behavioral Tech",
    "act": "ACBS",
    "emdr": "EMDRIA",
    "psychodynamic": "Psychodynamic institute",
    "psychoanalytic": "Psychoanalytic institute",
    "ifs": "IFS Institute",
    "schema": "ISST",
    "eft": "ICEEFT",
    "cpt": "CPT provider roster",
    "pe": "Center for the Treatment and Study of Anxiety",
    "somatic": "Somatic Experiencing International",
    "mindfulness": "UCSD Mindfulness",
    "mi": "MINT",
    "narrative": "Dulwich Centre",
    "family_systems": "Bowen Center",
    "gottman": "Gottman Institute",
    "sex_therapy": "AASECT",
    "play_therapy": "Association for Play Therapy",
}
# Weekly patterns (ISO weekday, start, end) in the consultant's own zone.
HOUR_PATTERNS = [
    [(d, "08:00", "12:00") for d in (1, 2, 3, 4, 5)],
    [(d, "13:00", "17:00") for d in (1, 2, 3, 4)],
    [(d, "17:30", "20:30") for d in (1, 3, 4)],
    [(6, "09:00", "13:00"), (7, "10:00", "14:00")],
    [(1, "09:00", "12:00"), (2, "14:00", "19:00"), (4, "09:00", "12:00"), (6, "10:00", "12:00")],
    [(2, "07:30", "10:00"), (3, "18:00", "21:00"), (5, "12:00", "16:00")],
]
FOCUS = [
    "trauma and PTSD",
    "burnout and compassion fatigue",
    "grief",
    "anxiety",
    "couples work",
    "mood disorders",
    "attachment",
    "identity and life transitions",
    "eating disorders",
    "substance use",
    "perinatal mental health",
    "chronic illness",
]


@dataclass
class DemoPerson:
    username: str
    display_name: str
    is_consultant: bool
    is_admin: bool = False
    pronouns: str | None = None
    languages: list[str] = field(default_factory=lambda: ["en"])
    offers_telehealth: bool = True
    offers_in_person: bool = False
    city: str | None = None
    fee_usd: int | None = None
    sliding_scale: bool = False
    years_in_practice: int | None = None
    timezone: str = "America/New_York"
    bio: str | None = None
    licenses: list[tuple[str, str, str, date]] = field(default_factory=list)
    # (modality, level, body, year, hours, verified, expires_on)
    competencies: list[tuple[str, int, str, int, int, bool, date | None]] = field(default_factory=list)
    weekly_hours: list[tuple[int, str, str]] = field(default_factory=list)  # (ISO weekday, start, end)
    accepting: bool = True
    capacity: int = 8

    @property
    def id(self) -> uuid.UUID:
        return uuid.uuid5(DEMO_NAMESPACE, self.username)

    @property
    def email(self) -> str:
        return f"{self.username}@demo.peerconsult.example"


def demo_world(today: date | None = None) -> list[DemoPerson]:
    """The same people every time (the seed is fixed); licence dates follow `today`."""
    today = today or date(2026, 11, 1)
    rng = random.Random(SEED)
    names = [(f, la) for f in FIRST for la in LAST]
    rng.shuffle(names)
    people: list[DemoPerson] = []
    places = list(PLACES)

    def licences(home: str, count: int) -> list[tuple[str, str, str, date]]:
        chosen = [home] + rng.sample(
            [p for p in places if p != home and (p in CA_TYPES) == (home in CA_TYPES)], count - 1
        )
        result = []
        us_type = rng.choice(US_TYPES)
        for code in chosen:
            kind = CA_TYPES.get(code, us_type)
            number = f"{code}-{rng.randint(10000, 99999)}"
            expires = today + timedelta(days=rng.randint(60, 900))
            result.append((code, kind, number, expires))
        return result

    modalities = list(MODALITY_BODIES)

    def competencies() -> list:
        result = []
        for code in rng.sample(modalities, rng.randint(2, 5)):
            level = rng.choices([1, 2, 3, 4], weights=[1, 3, 3, 1])[0]
            year = rng.randint(1998, 2025)
            hours = {
                1: rng.randint(8, 30),
                2: rng.randint(30, 120),
                3: rng.randint(100, 400),
                4: rng.randint(400, 1500),
            }[level]
            verified = rng.random() < 0.6
            expires = today - timedelta(days=30) if rng.random() < 0.05 else None
            result.append((code, level, MODALITY_BODIES[code], year, hours, verified, expires))
        return result

    for i in range(CONSULTANTS):
        first, last = names[i]
        home = places[i % len(places)]
        tz, cities = PLACES[home]
        in_person = rng.random() < 0.45
        years = rng.randint(3, 35)
        focus = rng.sample(FOCUS, 2)
        people.append(
            DemoPerson(
                username=f"consultant{i + 1:02d}",
                display_name=f"{'Dr. ' if rng.random() < 0.4 else ''}{first} {last}",
                is_consultant=True,
                pronouns=rng.choice(PRONOUNS),
                languages=list(rng.choice(LANGUAGE_MIX)),
                offers_telehealth=(not in_person) or rng.random() < 0.7,
                offers_in_person=in_person,
                city=rng.choice(cities) if in_person else None,
                fee_usd=rng.choice([90, 110, 120, 140, 150, 160, 175, 180, 200, 220, 250, 275]),
                sliding_scale=rng.random() < 0.4,
                years_in_practice=years,
                timezone=tz,
                bio=(
                    f"{years} years in practice, often with clinicians as clients. "
                    f"Particular interest in {focus[0]} and {focus[1]}."
                ),
                licenses=licences(home, 1 if rng.random() < 0.55 else 2),
                competencies=competencies(),
                weekly_hours=list(HOUR_PATTERNS[i % len(HOUR_PATTERNS)]),
                accepting=(i % 10) != 7,
                capacity=2 if i % 12 == 5 else rng.randint(4, 12),
            )
        )
    # Seekers in the demo's requests and engagements live where their consultant is licensed: the database
    # refuses a request, an acceptance or a booking otherwise (README, "Licensure at every door").
    homes = {"seeker02": "NY", "seeker03": "CA", "seeker05": "WA", "seeker06": "WA", "seeker07": "IL"}
    for i in range(SEEKERS):
        first, last = names[CONSULTANTS + i]
        home = homes.get(f"seeker{i + 1:02d}", places[(i * 5) % len(places)])
        tz, cities = PLACES[home]
        people.append(
            DemoPerson(
                username=f"seeker{i + 1:02d}",
                display_name=f"{first} {last}",
                is_consultant=False,
                pronouns=rng.choice(PRONOUNS),
                languages=list(rng.choice(LANGUAGE_MIX)),
                years_in_practice=rng.randint(1, 25),
                timezone=tz,
                licenses=licences(home, 1),
            )
        )
    people.append(
        DemoPerson(
            username="admin",
            display_name="Portal Administrator",
            is_consultant=False,
            is_admin=True,
            pronouns="they/them",
        )
    )
    return people


def demo_admin_present(owner_conninfo: str) -> bool:
    """Whether this database still holds the demo world's `admin` account (its password is in README)."""
    with psycopg.connect(owner_conninfo) as conn:
        row = conn.execute(
            "select exists (select 1 from private.credentials where user_id = %s and is_admin)",
            (uuid.uuid5(DEMO_NAMESPACE, "admin"),),
        ).fetchone()
        return row is not None and row[0]


def load_demo_world_if_empty(owner_conninfo: str) -> bool:
    """Insert the demo world when there are no profiles yet; True when it did."""
    with psycopg.connect(owner_conninfo) as conn:
        row = conn.execute("select exists (select 1 from public.profiles)").fetchone()
        if row is not None and row[0]:
            return False
        load_demo_world(conn)
        conn.commit()
        return True


def load_demo_world(conn: psycopg.Connection, today: date | None = None) -> list[DemoPerson]:
    # Licence expiry dates are relative to the day the database is created, so they are current.
    people = demo_world(today or datetime.now(UTC).date())
    # One hash for every demo account: bcrypt is slow on purpose, and they share a password.
    password_hash = bcrypt.hashpw(DEMO_PASSWORD.encode(), bcrypt.gensalt(rounds=12)).decode()
    with conn.cursor() as cur:
        cur.executemany(
            """insert into public.profiles (id, display_name, pronouns, languages, offers_telehealth,
                 offers_in_person, city, fee_usd, sliding_scale, years_in_practice, timezone, bio,
                 is_consultant, home_jurisdiction)
               values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
            # Everyone lives where their first licence is (licences() lists the home first).
            [
                (
                    p.id,
                    p.display_name,
                    p.pronouns,
                    p.languages,
                    p.offers_telehealth,
                    p.offers_in_person,
                    p.city,
                    p.fee_usd,
                    p.sliding_scale,
                    p.years_in_practice,
                    p.timezone,
                    p.bio,
                    p.is_consultant,
                    p.licenses[0][0] if p.licenses else None,
                )
                for p in people
            ],
        )
        cur.executemany(
            """insert into private.credentials (user_id, username, email, password_hash, is_admin)
               values (%s, %s, %s, %s, %s)""",
            [(p.id, p.username, p.email, password_hash, p.is_admin) for p in people],
        )
        cur.executemany(
            """insert into public.licenses (profile_id, jurisdiction, license_type, license_number,
                 expires_on, verification_status, verified_at)
               values (%s, %s, %s, %s, %s, %s, case when %s = 'verified' then now() end)""",
            [
                (p.id, code, kind, number, expires, status, status)
                for n, p in enumerate(people)
                for code, kind, number, expires in p.licenses
                for status in ["verified" if (n % 3) else "self_attested"]
            ],
        )
        cur.executemany(
            """insert into public.competencies (consultant_id, modality, level, evidence_body, evidence_year,
                 training_hours, expires_on, verification_status, verified_at)
               values (%s, %s, %s, %s, %s, %s, %s, %s, case when %s then now() end)""",
            [
                (p.id, code, level, body, year, hours, expires, "verified" if verified else "self_attested", verified)
                for p in people
                for code, level, body, year, hours, verified, expires in p.competencies
            ],
        )
        cur.executemany(
            "insert into public.weekly_hours (consultant_id, weekday, starts_at, ends_at) values (%s, %s, %s, %s)",
            [(p.id, day, start, end) for p in people for day, start, end in p.weekly_hours],
        )
        cur.executemany(
            "update public.availability_settings set accepting_new_clients = %s, capacity = %s "
            "where consultant_id = %s",
            [(p.accepting, p.capacity, p.id) for p in people if p.is_consultant],
        )
        _demo_requests(cur, people)
        _demo_declarations(cur, people, today or datetime.now(UTC).date())
        # What each open request's screening saw when it was sent (matching runs only at a request).
        cur.execute(
            "select private.take_request_screening(q.id) from public.consultation_requests q "
            "where q.status in ('pending', 'accepted')"
        )
        _demo_appointments(cur, people)
        _demo_termination_plans(cur, people)
    return people


def _demo_requests(cur, people: list[DemoPerson]) -> None:
    """Requests in every state, and engagements that use capacity (one consultant is full)."""
    by_name = {p.username: p for p in people}

    def ask(seeker, consultant, modalities, message, status, reason=None, engage=False):
        s, c = by_name[seeker], by_name[consultant]
        cur.execute(
            """insert into public.consultation_requests (seeker_id, consultant_id, modalities, message, status,
                 decline_reason, responded_at)
               values (%s, %s, %s, %s, %s, %s, case when %s <> 'pending' then now() end) returning id""",
            (s.id, c.id, modalities, message, status, reason, status),
        )
        request_id = cur.fetchone()[0]
        if engage:
            cur.execute(
                "insert into public.engagements (request_id, seeker_id, consultant_id) values (%s, %s, %s)",
                (request_id, s.id, c.id),
            )

    first_modality = {p.username: [p.competencies[0][0]] for p in people if p.competencies}
    ask(
        "seeker01",
        "consultant01",
        first_modality["consultant01"],
        "I'm a clinician looking for my own therapy; your approach fits what I need.",
        "pending",
    )
    ask(
        "seeker02",
        "consultant01",
        first_modality["consultant01"],
        "Hoping to start weekly sessions, telehealth if possible.",
        "pending",
    )
    ask(
        "seeker03",
        "consultant02",
        first_modality["consultant02"],
        "Looking for consultation after a difficult year in practice.",
        "accepted",
        engage=True,
    )
    ask(
        "seeker04",
        "consultant02",
        first_modality["consultant02"],
        "Would you have room for a new client?",
        "declined",
        reason="My caseload is full for the next three months; please try again in spring.",
    )
    # consultant06 has capacity 2 (index 5): fill it so it shows as full.
    ask(
        "seeker05",
        "consultant06",
        first_modality["consultant06"],
        "Seeking treatment for burnout.",
        "accepted",
        engage=True,
    )
    ask(
        "seeker06",
        "consultant06",
        first_modality["consultant06"],
        "Looking for support with grief.",
        "accepted",
        engage=True,
    )
    ask("seeker07", "consultant03", first_modality["consultant03"], "Interested in starting soon.", "pending")


def _demo_declarations(cur, people: list[DemoPerson], today: date) -> None:
    """Declarations that produce each kind of screening result (README, "Demo world")."""
    by_name = {p.username: p for p in people}

    def ago(years: float) -> date:
        return today - timedelta(days=int(years * 365.25))

    def declare(declarer, counterpart, kind, starts, ends=None, *, by_email=False, name=None):
        other = by_name[counterpart] if counterpart else None
        cur.execute(
            """insert into public.declared_relationships (declarer_id, counterpart_id, counterpart_name,
                 counterpart_email, kind, starts_on, ends_on) values (%s, %s, %s, %s, %s, %s, %s)""",
            (
                by_name[declarer].id,
                None if by_email or other is None else other.id,
                name,
                other.email if by_email and other is not None else None,
                kind,
                starts,
                ends,
            ),
        )

    def affiliate(member, organisation, kind, starts, ends=None, role=None):
        cur.execute(
            """insert into public.affiliations (member_id, organisation, kind, role, starts_on, ends_on)
                       values (%s, %s, %s, %s, %s, %s)""",
            (by_name[member].id, organisation, kind, role, starts, ends),
        )

    # seeker01 (New York): a former supervisor is hidden from search (blocking) ...
    declare("seeker01", "consultant13", "supervisor", ago(6), ago(1))
    # ... a consultant who declared seeker01 a friend is flagged (potential, reason hidden from seeker01) ...
    declare("consultant25", "seeker01", "friend", ago(8))
    # ... and so is one who worked at the same hospital (names normalise to the same organisation).
    affiliate("seeker01", "St. Mary's Hospital", "hospital", ago(5), ago(1), "Staff psychologist")
    affiliate("consultant37", "Saint Marys hospital", "hospital", ago(3), None, "Clinical lead")
    # Large associations are never screened.
    affiliate("seeker01", "American Psychological Association", "association", ago(10))
    affiliate("consultant01", "American Psychological Association", "association", ago(15))
    # seeker02 declared seeker05 as family, and consultant06 treats seeker05: an indirect tie.
    declare("seeker02", "seeker05", "family", None, by_email=True, name="My sister")
    # seeker03 and consultant04 were in the same training cohort; both signed a waiver.
    declare("seeker03", "consultant04", "training_cohort", ago(4), ago(2))
    # seeker04 sits on a board with consultant05.
    affiliate("seeker04", "State Board of Psychology", "board", ago(3), None, "Member")
    affiliate("consultant05", "State Board of Psychology", "board", ago(2), None, "Chair")
    # seeker05 was consultant07's client: blocking, whoever asks.
    declare("consultant07", "seeker05", "former_client", ago(9), ago(7))
    # consultant08 and seeker06 run a business together now.
    declare("consultant08", "seeker06", "business_partner", ago(2))
    # seeker07 and consultant09 were colleagues five years ago: outside the window, no conflict.
    declare("seeker07", "consultant09", "colleague", ago(9), ago(5))
    # Someone not on the portal, by name only.
    declare("seeker08", None, "former_romantic", ago(12), ago(10), name="Alex (not on the portal)")

    cur.execute(
        """insert into public.conflict_waivers (seeker_id, consultant_id, fingerprint, seeker_rationale,
             seeker_signed_at, consultant_rationale, consultant_signed_at)
           select %(s)s, %(c)s, l.fingerprint,
                  'We trained together years ago and have had no contact since; we discussed boundaries.', now(),
                  'Cohort overlap only; discussed in consultation with a peer and documented.', now()
           from private.conflict_levels(%(s)s, array[%(c)s]::uuid[]) l""",
        {"s": by_name["seeker03"].id, "c": by_name["consultant04"].id},
    )


def _demo_appointments(cur, people: list[DemoPerson]) -> None:
    """Kept, missed, late-cancelled and upcoming sessions for the demo engagements."""
    from datetime import datetime, time
    from zoneinfo import ZoneInfo

    by_name = {p.username: p for p in people}
    base = datetime.now(UTC).date()

    def session(consultant, client, days, hour, status, **extra):
        c, s = by_name[consultant], by_name[client]
        starts = datetime.combine(base + timedelta(days=days), time(hour), ZoneInfo(c.timezone))
        cur.execute(
            """insert into public.appointments (consultant_id, client_id, engagement_id, starts_at, ends_at,
                 blocked_until, status, requested_by, responded_at, cancelled_by, cancelled_at, cancel_reason,
                 notice_hours, late)
               select %(c)s, %(s)s, e.id, %(start)s, %(start)s + interval '50 minutes',
                      %(start)s + interval '60 minutes', %(status)s, %(s)s, now(), %(cancelled_by)s,
                      case when %(cancelled_by)s::uuid is not null then %(start)s - make_interval(hours => %(notice)s)
                      end, %(reason)s, %(notice)s, %(late)s
               from public.engagements e where e.seeker_id = %(s)s and e.consultant_id = %(c)s""",
            {
                "c": c.id,
                "s": s.id,
                "start": starts,
                "status": status,
                "cancelled_by": extra.get("cancelled_by") and by_name[extra["cancelled_by"]].id,
                "reason": extra.get("reason"),
                "notice": extra.get("notice"),
                "late": extra.get("late", False),
            },
        )

    for weeks_ago in (5, 4, 3, 2):
        session("consultant02", "seeker03", -7 * weeks_ago, 10, "completed")
    session(
        "consultant02", "seeker03", -7, 10, "cancelled", cancelled_by="seeker03", reason="Fever", notice=6, late=True
    )
    session("consultant02", "seeker03", 7, 10, "confirmed")
    session("consultant02", "seeker03", 14, 10, "requested")
    session("consultant06", "seeker05", -14, 9, "completed")
    session("consultant06", "seeker05", -7, 9, "no_show")
    session("consultant06", "seeker05", 8, 9, "confirmed")
    session("consultant06", "seeker06", 9, 11, "confirmed")


def _demo_termination_plans(cur, people: list[DemoPerson]) -> None:
    """A plan awaiting the client's signature, an agreed one, and a draft."""
    from psycopg.types.json import Jsonb

    by_name = {p.username: p for p in people}
    today = datetime.now(UTC).date()

    def plan(consultant, client, status, author, signers, **terms):
        c, s = by_name[consultant], by_name[client]
        cur.execute(
            """insert into public.termination_plans (engagement_id, seeker_id, consultant_id, status,
                         created_by)
                       select e.id, e.seeker_id, e.consultant_id, %s, %s from public.engagements e
                       where e.seeker_id = %s and e.consultant_id = %s returning id""",
            (status, by_name[author].id, s.id, c.id),
        )
        plan_id = cur.fetchone()[0]
        cur.execute(
            """insert into public.termination_plan_versions (plan_id, version, author_id, initiated_by, reason,
                         reason_notes, discussed_on, final_session_on, sessions_remaining, closing_sessions, referrals,
                         follow_up_on, aftercare_notes, checklist)
                       values (%s, 1, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
            (
                plan_id,
                by_name[author].id,
                terms["initiated_by"],
                terms["reason"],
                terms.get("notes"),
                terms["discussed_on"],
                terms["final_session_on"],
                terms["sessions_remaining"],
                terms.get("closing_sessions", 1),
                Jsonb(terms.get("referrals", [])),
                terms.get("follow_up_on"),
                terms.get("aftercare"),
                [
                    "pre_termination_discussion",
                    "referrals_given",
                    "closing_session_held",
                    "summary_shared",
                    "follow_up_arranged",
                ],
            ),
        )
        for signer in signers:
            cur.execute(
                "insert into public.termination_signatures (plan_id, version, signer_id) values (%s, 1, %s)",
                (plan_id, by_name[signer].id),
            )
        return plan_id

    plan(
        "consultant02",
        "seeker03",
        "proposed",
        "consultant02",
        ["consultant02"],
        initiated_by="consultant",
        reason="relocation",
        notes="Moving my practice to another state in the new year.",
        discussed_on=today - timedelta(days=3),
        final_session_on=today + timedelta(days=35),
        sessions_remaining=5,
        closing_sessions=2,
        referrals=[{"consultant_id": str(by_name["consultant14"].id), "name": by_name["consultant14"].display_name}],
        follow_up_on=today + timedelta(days=80),
        aftercare="A check-in call about a month after the last session.",
    )
    agreed = plan(
        "consultant06",
        "seeker05",
        "agreed",
        "seeker05",
        ["seeker05", "consultant06"],
        initiated_by="client",
        reason="goals_met",
        discussed_on=today - timedelta(days=10),
        final_session_on=today + timedelta(days=8),
        sessions_remaining=2,
        closing_sessions=1,
        follow_up_on=today + timedelta(days=40),
    )
    cur.execute(
        "insert into public.termination_checklist_progress (plan_id, item, done_by) values (%s, %s, %s)",
        (agreed, "pre_termination_discussion", by_name["seeker05"].id),
    )
    plan(
        "consultant06",
        "seeker06",
        "draft",
        "seeker06",
        [],
        initiated_by="client",
        reason="financial",
        discussed_on=today,
        final_session_on=today + timedelta(days=21),
        sessions_remaining=3,
    )
