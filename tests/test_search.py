"""Search ranking and filters on a small world built inside a rolled-back transaction.

The world lives in Wyoming (WY), where the demo world has nobody, so every
expected order below is exact.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from portal.search import SearchFilters, relaxed

TODAY = datetime.now(UTC).date()


class World:
    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn
        conn.execute("select set_config('role', 'service_role', true)")
        self.seeker = self.person("Sam Seeker", consultant=False, licences=[("WY", 400)])

    def person(
        self,
        name: str,
        *,
        consultant: bool = True,
        fee: int = 150,
        years: int = 10,
        languages=("en",),
        telehealth=True,
        in_person=False,
        city=None,
        sliding=False,
        licences=(("WY", 400),),
        competencies=(),
        hours=((1, "09:00", "12:00"),),
        accepting=True,
        capacity=5,
    ) -> str:
        pid = str(uuid.uuid4())
        self.conn.execute(
            """insert into public.profiles (id, display_name, languages, offers_telehealth, offers_in_person, city,
                 fee_usd, sliding_scale, years_in_practice, timezone, is_consultant)
               values (%s, %s, %s, %s, %s, %s, %s, %s, %s, 'America/Denver', %s)""",
            (pid, name, list(languages), telehealth, in_person, city, fee, sliding, years, consultant),
        )
        for jurisdiction, days in licences:
            self.conn.execute(
                """insert into public.licenses (profile_id, license_type, license_number, jurisdiction,
                                   expires_on) values (%s, 'LPC', 'WY-1000', %s, %s)""",
                (pid, jurisdiction, TODAY + timedelta(days=days)),
            )
        for modality, level, verified, *expired in competencies:
            self.conn.execute(
                """insert into public.competencies (consultant_id, modality, level, verification_status,
                     verified_at, expires_on, evidence_body)
                   values (%s, %s, %s, %s, case when %s then now() end, %s, 'Test body')""",
                (
                    pid,
                    modality,
                    level,
                    "verified" if verified else "self_attested",
                    verified,
                    TODAY - timedelta(days=1) if expired and expired[0] else None,
                ),
            )
        for weekday, start, end in hours:
            self.conn.execute(
                "insert into public.weekly_hours (consultant_id, weekday, starts_at, ends_at) values (%s, %s, %s, %s)",
                (pid, weekday, start, end),
            )
        self.conn.execute(
            "update public.availability_settings set accepting_new_clients = %s, capacity = %s "
            "where consultant_id = %s",
            (accepting, capacity, pid),
        )
        return pid

    def fill(self, consultant: str, clients: int) -> None:
        for n in range(clients):
            client = self.person(f"Client {n} of {consultant[:4]}", consultant=False)
            request = self.conn.execute(
                "insert into public.consultation_requests (seeker_id, consultant_id, message, status) "
                "values (%s, %s, 'hello', 'accepted') returning id",
                (client, consultant),
            ).fetchone()[0]
            self.conn.execute(
                "insert into public.engagements (request_id, seeker_id, consultant_id) values (%s, %s, %s)",
                (request, client, consultant),
            )

    def search(self, **filters) -> dict:
        params = SearchFilters(jurisdiction="WY", page_size=50, **filters).params()
        claims = {"sub": self.seeker, "role": "portal_member"}
        self.conn.execute(
            "select set_config('role', 'portal_member', true), set_config('request.jwt.claims', %s, true)",
            (json.dumps(claims),),
        )
        try:
            return self.conn.execute(
                "select public.search_consultants(" + ", ".join(f"{k} => %({k})s" for k in params) + ")", params
            ).fetchone()[0]
        finally:
            self.conn.execute("select set_config('role', 'service_role', true)")

    def names(self, **filters) -> list[str]:
        return [r["display_name"] for r in self.search(**filters)["results"]]


@pytest.fixture
def world(api_conn):
    return World(api_conn)


@pytest.fixture
def committed_world(embedded_db):
    """The same world committed statement by statement (autocommit, as the superuser), removed afterwards
    (deleting the profiles outright: their hours and engagements go with them)."""
    with psycopg.connect(embedded_db.conninfo("postgres"), autocommit=True) as conn:
        world = World(conn)
        made = [world.seeker]
        make = world.person

        def person(*args, **kwargs) -> str:
            made.append(make(*args, **kwargs))
            return made[-1]

        world.person = person
        yield world
        conn.execute("delete from public.profiles where id = any (%s)", (made,))


@pytest.fixture
def superuser_world(embedded_db):
    """The same world on a superuser connection (rolled back), which may also read private.search_facts."""
    with psycopg.connect(embedded_db.conninfo("postgres")) as conn:
        yield World(conn)
        conn.rollback()


def test_verified_higher_levels_rank_first_and_minimum_level_filters(world):
    world.person("Ana Level4 Verified", competencies=[("cbt", 4, True)])
    world.person("Ben Level4 Attested", competencies=[("cbt", 4, False)])
    world.person("Cal Level2 Verified", competencies=[("cbt", 2, True)])
    world.person("Dee Level1", competencies=[("cbt", 1, True)])
    world.person("Eve No CBT", competencies=[("emdr", 4, True)])
    assert world.names(modalities=["cbt"], min_level=2) == [
        "Ana Level4 Verified",
        "Ben Level4 Attested",
        "Cal Level2 Verified",
    ]
    assert world.names(modalities=["cbt"]) == [
        "Ana Level4 Verified",
        "Ben Level4 Attested",
        "Cal Level2 Verified",
        "Dee Level1",
    ]


def test_every_wanted_modality_is_required(world):
    world.person("Both", competencies=[("cbt", 3, True), ("emdr", 3, True)])
    world.person("Only CBT", competencies=[("cbt", 4, True)])
    assert world.names(modalities=["cbt", "emdr"]) == ["Both"]


def test_licence_where_the_seeker_lives_is_a_hard_filter(world):
    world.person("Licensed here", competencies=[("cbt", 2, True)])
    world.person("Licensed elsewhere", competencies=[("cbt", 4, True)], licences=[("MT", 400)])
    world.person("Licence expired", competencies=[("cbt", 4, True)], licences=[("WY", -1)])
    assert world.names(modalities=["cbt"]) == ["Licensed here"]


def test_an_expired_credential_stops_counting_as_verified(world):
    world.person("Current", competencies=[("emdr", 3, True)])
    world.person("Expired", competencies=[("emdr", 3, True, True)])
    results = world.search(modalities=["emdr"])["results"]
    assert [r["display_name"] for r in results] == ["Current", "Expired"]
    current, expired = results
    assert current["breakdown"]["modality"] == 32.5 and current["competencies"][0]["verified"] is True
    assert expired["breakdown"]["modality"] == 22.5 and expired["competencies"][0]["verified"] is False


def test_capacity_and_accepting(world):
    full = world.person("Full", capacity=1)
    world.fill(full, 1)
    world.person("Closed", accepting=False)
    world.person("Open")
    assert world.names() == ["Open"]
    everyone = {r["display_name"]: r["has_room"] for r in world.search(accepting_only=False)["results"]}
    assert everyone == {"Open": True, "Full": False, "Closed": False}


def test_format_city_language_fee_and_times(world):
    world.person("Tele only", fee=100, hours=[(6, "09:00", "12:00")])
    world.person(
        "Casper office", in_person=True, city="Casper", fee=200, languages=("en", "es"), hours=[(2, "18:00", "20:00")]
    )
    world.person("Laramie office", in_person=True, telehealth=False, city="Laramie", fee=260, sliding=True)
    assert world.names(format="in_person") == ["Casper office", "Laramie office"]
    assert world.names(format="in_person", city="casper ") == ["Casper office"]
    assert world.names(format="telehealth") == ["Tele only", "Casper office"]
    assert world.names(languages=["es"]) == ["Casper office"]
    assert world.names(max_fee=150) == ["Tele only"]
    assert set(world.names(max_fee=150, sliding_ok=True)) == {"Tele only", "Laramie office"}
    assert world.names(times=["Weekends"]) == ["Tele only"]
    assert world.names(times=["Weekday evenings"]) == ["Casper office"]


def test_ties_break_by_name_then_id_and_score_is_the_sum_of_its_parts(world):
    for name in ("Zoe Same", "Amy Same", "Moe Same"):
        world.person(name, competencies=[("act", 3, True)])
    results = world.search(modalities=["act"])["results"]
    assert [r["display_name"] for r in results] == ["Amy Same", "Moe Same", "Zoe Same"]
    for r in results:
        assert abs(sum(r["breakdown"].values()) - r["score"]) <= 0.5
        assert 0 <= r["score"] <= 100


def test_neither_the_seeker_nor_non_consultants_appear(world):
    world.person("Not offering", consultant=False)
    world.person("Offering")
    assert world.names() == ["Offering"]


def test_paging_is_stable(world):
    for n in range(7):
        world.person(f"Person {n}", years=n)
    everyone = world.names()
    first = world.search(page=1)
    params_page = [r["display_name"] for r in first["results"]]
    assert params_page == everyone and first["total"] == 7
    small = SearchFilters(jurisdiction="WY", page_size=3, page=3).params()
    assert small["p_offset"] == 6 and small["p_limit"] == 3


def test_empty_result_says_which_filter_removed_most_and_relaxing_finds_them(world):
    world.person("Spanish CBT", languages=("es",), competencies=[("cbt", 3, True)])
    world.person("French CBT", languages=("fr",), competencies=[("cbt", 3, True)])
    world.person("German EMDR", languages=("de",), competencies=[("emdr", 3, True)])
    found = world.search(modalities=["cbt"], languages=["de"])
    assert found["total"] == 0
    assert found["relax"][0] == {"filter": "languages", "count": 2}
    assert {"filter": "modalities", "count": 1} in found["relax"]
    # Only the minimum level keeps these out: relaxing it finds exactly them.
    world.person("Level 1 CBT", languages=("de",), competencies=[("cbt", 1, True)])
    world.person("Level 2 CBT", languages=("de",), competencies=[("cbt", 2, True)])
    high = world.search(modalities=["cbt"], languages=["de"], min_level=3)
    assert {"filter": "min_level", "count": 2} in high["relax"]
    assert len(world.search(**{"modalities": ["cbt"], "languages": ["de"], "min_level": 1})["results"]) == 2
    filters = SearchFilters(jurisdiction="WY", modalities=["cbt"], languages=["de"])
    assert relaxed(filters, "languages").languages == []


def test_relaxation_counts_only_those_kept_out_by_one_filter_alone(world):
    """Licensed elsewhere but otherwise a match: counted for the jurisdiction. Two filters failed: never counted."""
    elsewhere = {r["filter"]: r["count"] for r in world.search(modalities=["cbt"], min_level=3)["relax"]}
    assert set(elsewhere) <= {"jurisdiction"}  # the demo world's consultants, none licensed in Wyoming
    world.person("Montana CBT", licences=[("MT", 400)], competencies=[("cbt", 3, True)])
    world.person("Montana EMDR", licences=[("MT", 400)], competencies=[("emdr", 3, True)])
    world.person("Montana CBT level 1", licences=[("MT", 400)], competencies=[("cbt", 1, True)])
    world.person("Wyoming CBT level 1 German", languages=("de",), competencies=[("cbt", 1, True)])
    world.person("Wyoming EMDR", competencies=[("emdr", 2, True)])
    found = world.search(modalities=["cbt"], min_level=3)
    assert found["total"] == 0
    assert sorted(found["relax"], key=lambda r: r["filter"]) == [
        {"filter": "jurisdiction", "count": elsewhere.get("jurisdiction", 0) + 1},
        {"filter": "min_level", "count": 1},
        {"filter": "modalities", "count": 1},
    ]


def test_the_search_refuses_without_a_jurisdiction(world, backend):
    from portal.db import APIError, Claims

    with pytest.raises(APIError) as refused:
        backend.rpc("search_consultants", {"p_jurisdiction": None}, as_user=Claims.user(str(uuid.uuid4())))
    assert refused.value.details == "jurisdiction"
    with pytest.raises(APIError) as anon:
        backend.rpc("search_consultants", {"p_jurisdiction": "WY"}, as_user=None)
    assert anon.value.code == "42501"


# --- the precomputed search facts -----------------------------------------------------------

FACT_COLUMNS = (
    "consultant_id, display_name, jurisdictions, offers_telehealth, offers_in_person, city_key,"
    " languages, fee_usd, sliding_scale, open_to_new, time_buckets, experience_score, fit_all, competence,"
    " modality_points, valid_until::text"
)


def facts(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute(f"select {FACT_COLUMNS} from private.search_facts order by consultant_id").fetchall()


def recomputed(conn: psycopg.Connection) -> list[tuple]:
    """The facts as a full recomputation from the source tables gives them (inside a savepoint, undone)."""
    with conn.transaction(force_rollback=True):
        conn.execute("delete from private.search_facts")
        conn.execute("select private.refresh_search_facts(array(select id from public.profiles))")
        return facts(conn)


def test_the_facts_follow_every_change_to_what_they_are_drawn_from(committed_world):
    """Each kind of change the app makes, each committed: the facts recomputed at commit equal a full
    recomputation."""
    world = committed_world
    conn = world.conn
    ana = world.person("Ana", competencies=[("cbt", 3, True), ("emdr", 2, False)], hours=((6, "09:00", "12:00"),))
    ben = world.person("Ben", licences=[("WY", 400), ("MT", 2)], competencies=[("act", 4, True)])
    seeker_turned_consultant = world.person("Cy", consultant=False)
    assert facts(conn) == recomputed(conn)
    changes = [
        (
            "update public.profiles set fee_usd = 90, sliding_scale = true, years_in_practice = 30, city = 'Casper', "
            "offers_in_person = true, languages = '{en,es}', display_name = 'Ana B' where id = %(ana)s"
        ),
        "update public.profiles set is_consultant = true where id = %(cy)s",
        "update public.availability_settings set accepting_new_clients = false where consultant_id = %(ben)s",
        "insert into public.weekly_hours (consultant_id, weekday, starts_at, ends_at) "
        "values (%(ben)s, 3, '18:00', '20:00')",
        "delete from public.weekly_hours where consultant_id = %(ana)s",
        "update public.competencies set expires_on = current_date + 3 where consultant_id = %(ana)s",
        "update public.competencies set verification_status = 'verified', verified_at = now() "
        "where consultant_id = %(ana)s and modality = 'emdr'",
        "delete from public.competencies where consultant_id = %(ben)s",
        "update public.licenses set expires_on = current_date - 1 where profile_id = %(ben)s and jurisdiction = 'MT'",
        "delete from public.licenses where profile_id = %(ana)s",
        (
            "insert into public.licenses (profile_id, license_type, license_number, jurisdiction, expires_on) "
            "values (%(ana)s, 'LPC', 'ID-1', 'ID', current_date + 10)"
        ),
        "delete from public.availability_settings where consultant_id = %(cy)s",
        "update public.profiles set is_consultant = false where id = %(ben)s",
    ]
    ids = {"ana": ana, "ben": ben, "cy": seeker_turned_consultant}
    for change in changes:
        conn.execute(change, ids)
        assert facts(conn) == recomputed(conn), change
    world.fill(ana, 2)  # engagements: the capacity trigger changes the settings, and with them "has room"
    assert facts(conn) == recomputed(conn)
    rows = {str(r[0]): r for r in facts(conn)}
    assert ben not in rows and seeker_turned_consultant not in rows  # no longer offers consultation; no settings
    ana_row = rows[ana]
    assert ana_row[2] == ["ID"] and ana_row[5] == "casper"
    assert ana_row[15] == str(TODAY + timedelta(days=3))  # the emdr credential's expiry comes first


def test_concurrent_changes_to_one_consultant_are_never_lost(committed_world, embedded_db):
    """An admin's verification still open while the consultant saves a profile change: once both have committed,
    the facts include both (the later commit recomputes after the earlier one's)."""
    ana = committed_world.person("Ana Concurrent", competencies=[("cbt", 2, False)])
    with psycopg.connect(embedded_db.conninfo("postgres")) as admin:
        admin.execute(
            "update public.competencies set verification_status = 'verified', verified_at = now() "
            "where consultant_id = %s",
            (ana,),
        )
        committed_world.conn.execute("update public.profiles set bio = 'Changed meanwhile' where id = %s", (ana,))
        admin.commit()
    conn = committed_world.conn
    assert facts(conn) == recomputed(conn)
    points = conn.execute(
        "select modality_points from private.search_facts where consultant_id = %s", (ana,)
    ).fetchone()[0]
    assert points == {"cbt": 25.0}  # level 2 x 7.5 + 10 for the verification


def test_two_saves_locking_in_opposite_orders_do_not_deadlock_on_the_facts(committed_world, embedded_db):
    """A settings save and a competency change of one consultant, each then touching what the other holds: the
    facts' locks are taken at commit, after every row lock, so they add no deadlock (each waits its turn)."""
    ana = committed_world.person("Ana Busy", competencies=[("cbt", 3, False)])
    errors: list[BaseException] = []
    with (
        psycopg.connect(embedded_db.conninfo("postgres")) as first,
        psycopg.connect(embedded_db.conninfo("postgres")) as second,
    ):
        first.execute("update public.availability_settings set capacity = 7 where consultant_id = %s", (ana,))
        second.execute("update public.competencies set level = 4 where consultant_id = %s", (ana,))

        def first_then_touches_the_competency() -> None:
            try:
                first.execute("update public.competencies set training_hours = 100 where consultant_id = %s", (ana,))
                first.commit()
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        waiting = threading.Thread(target=first_then_touches_the_competency)
        waiting.start()
        # `first` waits for `second`'s row lock; `second` commits, recomputing the facts at commit.
        wait_until_blocked(committed_world.conn, first)
        second.commit()
        waiting.join(timeout=60)
        assert not waiting.is_alive() and errors == []
    conn = committed_world.conn
    assert facts(conn) == recomputed(conn)


def wait_until_blocked(observer: psycopg.Connection, blocked: psycopg.Connection) -> None:
    """Until `blocked`'s backend waits for a lock (no timing assumption: polled, bounded only by the test run)."""
    pid = blocked.info.backend_pid
    for _ in range(6000):
        if observer.execute("select wait_event_type = 'Lock' from pg_stat_activity where pid = %s", (pid,)).fetchone()[
            0
        ]:
            return
        time.sleep(0.01)
    raise AssertionError("the second transaction never waited for the first")


def test_a_search_recomputes_facts_whose_day_has_passed(superuser_world):
    """A row left from an earlier day (a licence has since expired) is recomputed before the search reads it."""
    world = superuser_world
    ana = world.person("Ana Stale", competencies=[("cbt", 3, True)])
    world.conn.execute("reset role")
    world.conn.execute("select private.refresh_pending_search_facts()")  # as a commit would have
    # As if computed yesterday, when Ana also held a Montana licence valid until yesterday.
    world.conn.execute(
        "update private.search_facts set jurisdictions = '{MT,WY}', valid_until = current_date - 1 "
        "where consultant_id = %s",
        (ana,),
    )
    assert world.names() == ["Ana Stale"]
    world.conn.execute("reset role")
    row = world.conn.execute(
        "select jurisdictions, valid_until from private.search_facts where consultant_id = %s", (ana,)
    ).fetchone()
    assert row == (["WY"], TODAY + timedelta(days=400))


def test_a_search_reads_its_own_transaction_s_changes(world):
    """Facts are recomputed at commit; a search in the same transaction recomputes what it changed first."""
    ana = world.person("Ana Own Writes", competencies=[("cbt", 3, True)])
    assert world.names() == ["Ana Own Writes"]
    world.conn.execute("update public.profiles set display_name = 'Ana Renamed' where id = %s", (ana,))
    assert world.names() == ["Ana Renamed"]


def test_search_facts_are_out_of_every_api_role_s_reach(api_conn):
    for role in ("anon", "authenticated", "portal_member", "service_role"):
        with api_conn.transaction(force_rollback=True):
            api_conn.execute(f"set local role {role}")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                api_conn.execute("select count(*) from private.search_facts")


def test_counts_past_the_cap_are_said_as_more_than_1000_and_page_only_the_best_1000():
    from portal.search import SearchPage, count_words

    assert [count_words(n) for n in (0, 1, 1000, 1001)] == ["0", "1", "1,000", "more than 1,000"]
    exact = SearchPage(total=1000, results=[], relax=[])
    capped = SearchPage(total=1001, results=[], relax=[], total_capped=True)
    assert (exact.pages(20), exact.total_words()) == (50, "1,000")
    assert (capped.pages(20), capped.total_words()) == (50, "more than 1,000")  # never a 51st page of one
    assert SearchPage(total=7, results=[], relax=[]).pages(20) == 1
