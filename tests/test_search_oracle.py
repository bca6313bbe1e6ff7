"""The search against an oracle, on the benchmark's small world (2,000 consultants, 100 seekers, made by
bench/generate.py in its own embedded Postgres): the same rules written plainly in pandas over every
consultant's raw rows (bench/run.py's baseline, which reads the source tables, not
private.search_facts), for 150 of the benchmark's deterministic queries. Totals, the ranked top 20 and
their scores must agree exactly.

The oracle leaves out the consultants screening blocks for that seeker (asked of
private.conflicts_found, the screening the search uses; screening itself is tested in
test_screening.py), so what is compared is the filtering and ranking over the search facts.
"""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest

from bench.generate import QUICK, ensure_world
from bench.run import TOP, baseline_relaxations, baseline_search, load_seekers, make_queries
from portal.db.local import LocalBackend

# Every consultant with competencies and licences, read from the source tables (as the owner).
RAW_CONSULTANTS = """
  select p.id::text as id, p.display_name, p.languages, p.fee_usd, p.sliding_scale, p.offers_telehealth,
         p.offers_in_person, p.city, p.years_in_practice, s.accepting_new_clients,
         s.active_clients < s.capacity as has_room, s.time_buckets::integer as time_buckets, s.clients_served,
         coalesce((select jsonb_agg(jsonb_build_object('modality', c.modality, 'level', c.level,
                                                       'verification_status', c.verification_status,
                                                       'expires_on', c.expires_on))
                   from public.competencies c where c.consultant_id = p.id), '[]') as competencies,
         coalesce((select jsonb_agg(jsonb_build_object('jurisdiction', l.jurisdiction, 'expires_on', l.expires_on))
                   from public.licenses l where l.profile_id = p.id), '[]') as licenses
  from public.profiles p join public.availability_settings s on s.consultant_id = p.id
  where p.is_consultant"""

BLOCKED_FOR = """
  select f.consultant_id::text from private.conflicts_found(
    %s, (select array_agg(p.id) from public.profiles p where p.is_consultant)) f
  where f.level = 'blocking'"""


@pytest.fixture(scope="module")
def bench_world(tmp_path_factory):
    # Its Postgres is stopped by the embedded server's exit hook, like the benchmark's.
    return ensure_world(QUICK, data_root=tmp_path_factory.mktemp("oracle-world"), log=lambda *_: None)


def test_search_agrees_with_a_plain_reimplementation(bench_world):
    owner = bench_world.db.owner_conninfo
    with psycopg.connect(owner) as conn:
        rows = conn.cursor(row_factory=psycopg.rows.dict_row).execute(RAW_CONSULTANTS).fetchall()
        modalities = [r[0] for r in conn.execute("select code from public.modalities order by code")]
    queries = make_queries(load_seekers(owner), modalities, count=150, seed=2026)
    today = datetime.now(UTC).date().isoformat()
    backend = LocalBackend(bench_world.db.api_conninfo)
    totals, hidden = [], 0
    try:
        with psycopg.connect(owner) as conn:
            for query in queries:
                blocked = {r[0] for r in conn.execute(BLOCKED_FOR, (query.seeker.id,))}
                hidden += len(blocked)
                expected = baseline_search([r for r in rows if r["id"] not in blocked], query, today)
                found = backend.rpc("search_consultants", query.filters.params(), as_user=query.claims)
                assert found["total"] == expected["total"], query.describe()
                assert [r["consultant_id"] for r in found["results"]] == expected["ids"], query.describe()
                assert [r["score"] for r in found["results"]] == expected["scores"], query.describe()
                totals.append(found["total"])
    finally:
        backend.close()
    # Not vacuous: most searches found consultants, many more than a page, and screening hid some.
    assert sum(t > 0 for t in totals) > len(totals) // 2 and sum(t > TOP for t in totals) > 10, totals
    assert hidden > 0


RELAXATIONS = """
  select public.search_relaxations(%(me)s, %(p_jurisdiction)s, %(p_modalities)s, %(p_min_level)s, %(p_format)s,
                                   %(city)s, %(p_languages)s, %(p_max_fee)s, %(p_sliding_ok)s, %(p_accepting_only)s,
                                   %(p_times)s)"""


def test_relaxation_counts_agree_with_a_plain_reimplementation(bench_world):
    """What an empty result offers to relax, asked for every query (not only the empty ones): for each filter, how
    many it alone keeps out, counted through the indexes (the places index among them) against the same rule in
    pandas."""
    owner = bench_world.db.owner_conninfo
    today = datetime.now(UTC).date().isoformat()
    seen: dict[str, int] = {}
    with psycopg.connect(owner) as conn:
        rows = conn.cursor(row_factory=psycopg.rows.dict_row).execute(RAW_CONSULTANTS).fetchall()
        modalities = [r[0] for r in conn.execute("select code from public.modalities order by code")]
        for query in make_queries(load_seekers(owner), modalities, count=150, seed=2026):
            blocked = {r[0] for r in conn.execute(BLOCKED_FOR, (query.seeker.id,))}
            expected = baseline_relaxations([r for r in rows if r["id"] not in blocked], query, today)
            params = query.filters.params()
            found = conn.execute(
                RELAXATIONS, {**params, "me": query.seeker.id, "city": (params["p_city"] or "").strip().lower() or None}
            ).fetchone()[0]
            assert found == expected, query.describe()
            for relax in found:
                seen[relax["filter"]] = seen.get(relax["filter"], 0) + 1
    # Not vacuous: every kind of relaxation was offered by several queries.
    assert all(
        seen.get(name, 0) >= 3
        for name in ("jurisdiction", "modalities", "min_level", "format", "languages", "fee", "capacity", "times")
    ), seen


# --- early stopping against a full scoring, where many candidates tie at the cut -------------------

# 1,300 consultants in Wyoming (where the demo world has nobody) drawn from a few values each, so that
# scores bunch: dozens share the 20th score, and names repeat (ties then go to the id).
TIED_WORLD = """
with made as (
  insert into public.profiles (id, display_name, languages, offers_telehealth, offers_in_person, city, fee_usd,
                               sliding_scale, years_in_practice, timezone, is_consultant)
  select md5('tied-consultant:' || i)::uuid,
         (array['Ana Tie', 'Ben Tie', 'Cy Tie', 'Dee Tie', 'Eve Tie'])[1 + i % 5],
         case when i % 7 = 0 then array['en', 'es'] else array['en'] end,
         true, i % 3 = 0, case when i % 3 = 0 then 'Casper' end,
         (array[100, 100, 150, 150, 200])[1 + (i / 5) % 5], i % 4 = 0,
         (array[25, 25, 20, 30])[1 + (i / 3) % 4], 'America/Denver', true
  from generate_series(1, 1300) i
  returning id
)
select count(*) from made;
insert into public.licenses (profile_id, license_type, license_number, jurisdiction, expires_on)
select md5('tied-consultant:' || i)::uuid, 'LPC', 'WY-' || i, 'WY', current_date + 400
from generate_series(1, 1300) i;
insert into public.competencies (consultant_id, modality, level, verification_status, verified_at,
                                 evidence_body)
select md5('tied-consultant:' || i)::uuid, c.modality, c.level, c.status,
       case when c.status = 'verified' then now() end, 'Test body'
from generate_series(1, 1300) i
cross join lateral (values ('cbt', 3 + (i / 2) % 2, case when i % 6 < 4 then 'verified' else 'self_attested' end),
                           ('emdr', 4, case when i % 5 < 3 then 'verified' else 'self_attested' end),
                           ('act', 2 + i % 3, 'verified')) c (modality, level, status)
where c.modality <> 'act' or i % 2 = 0;
insert into public.weekly_hours (consultant_id, weekday, starts_at, ends_at)
select md5('tied-consultant:' || i)::uuid, w.weekday, w.starts_at, w.ends_at
from generate_series(1, 1300) i
cross join lateral (values (1 + i % 5, time '09:00', time '12:00'), (6, time '10:00', time '13:00'))
  w (weekday, starts_at, ends_at)
where w.weekday <> 6 or i % 4 = 1;
update public.availability_settings s set accepting_new_clients = (right(s.consultant_id::text, 1) <> '0'), capacity = 5
where s.consultant_id in (select md5('tied-consultant:' || i)::uuid from generate_series(1, 1300) i);
"""


def test_early_stopping_agrees_with_a_full_scoring_where_many_tie_at_the_cut(embedded_db, monkeypatch):
    """More than 1,000 match, so the search reads the bound-ordered lists and stops early; a plain pandas scoring of
    everyone must give the same pages (top 20, the page after it, scores, ties by name then id), with a blocking
    conflict among those tied at the cut left out and a potential one kept."""
    import bench.run as bench_run
    from bench.run import Query, Seeker
    from portal.search import SearchFilters

    with psycopg.connect(embedded_db.conninfo("postgres")) as conn:
        conn.execute(TIED_WORLD)
        seeker = conn.execute(
            "insert into public.profiles (id, display_name, languages, timezone, is_consultant) "
            "values (gen_random_uuid(), 'Tied Seeker', '{en}', 'America/Denver', false) returning id::text"
        ).fetchone()[0]
        rows = conn.cursor(row_factory=psycopg.rows.dict_row).execute(RAW_CONSULTANTS).fetchall()
        today = datetime.now(UTC).date().isoformat()

        def everyone(query: Query) -> dict:
            monkeypatch.setattr(bench_run, "TOP", 10_000)
            blocked = {r[0] for r in conn.execute(BLOCKED_FOR, (seeker,))}
            return baseline_search([r for r in rows if r["id"] not in blocked], query, today)

        def search(filters: SearchFilters) -> dict:
            params = filters.params()
            conn.execute(
                "select set_config('role', 'portal_member', true), set_config('request.jwt.claims', %s, true)",
                (f'{{"sub": "{seeker}", "role": "portal_member"}}',),
            )
            try:
                return conn.execute(
                    "select public.search_consultants(" + ", ".join(f"{k} => %({k})s" for k in params) + ")", params
                ).fetchone()[0]
            finally:
                conn.execute("reset role")

        shapes = [
            SearchFilters(jurisdiction="WY", page_size=20),
            SearchFilters(jurisdiction="WY", modalities=["cbt"], page_size=20),
            SearchFilters(jurisdiction="WY", modalities=["cbt", "emdr"], page_size=20),
            SearchFilters(
                jurisdiction="WY", modalities=["cbt"], max_fee=250, sliding_ok=True, accepting_only=False, page_size=20
            ),
            SearchFilters(
                jurisdiction="WY",
                modalities=["emdr"],
                times=["Weekday mornings"],
                max_fee=160,
                sliding_ok=True,
                accepting_only=False,
                page_size=20,
            ),
            SearchFilters(jurisdiction="WY", languages=["en", "es"], accepting_only=False, page_size=20),
        ]
        # Declarations naming two of the consultants tied at the cut of the first search: one blocking, one not.
        first = everyone(Query(Seeker(seeker, "WY", ["en"]), shapes[0]))
        cut = first["scores"][19]
        at_cut = [i for i, s in zip(first["ids"], first["scores"], strict=True) if s == cut]
        assert len(at_cut) > 20, "the world must tie many candidates at the 20th score"
        conn.execute(
            "insert into public.declared_relationships (declarer_id, counterpart_id, kind, starts_on) "
            "values (%s, %s, 'family', '2020-01-01'), (%s, %s, 'colleague', '2020-01-01')",
            (seeker, at_cut[0], seeker, at_cut[1]),
        )
        levels = dict(
            conn.execute(
                "select consultant_id::text, level from private.conflicts_found(%s, %s::uuid[])", (seeker, at_cut[:2])
            ).fetchall()
        )
        assert levels.get(at_cut[0]) == "blocking" and levels.get(at_cut[1]) in ("potential", "waived")

        for filters in shapes:
            for page in (1, 2):
                paged = SearchFilters(**{**filters.__dict__, "page": page})
                expected = everyone(Query(Seeker(seeker, "WY", ["en"]), paged))
                found = search(paged)
                start = (page - 1) * 20
                what = f"{filters} page {page}"
                assert expected["total"] > 1000 and found["total"] == 1001 and found["total_capped"] is True, what
                assert [r["consultant_id"] for r in found["results"]] == expected["ids"][start : start + 20], what
                assert [r["score"] for r in found["results"]] == expected["scores"][start : start + 20], what
                for r in found["results"]:
                    assert abs(sum(r["breakdown"].values()) - r["score"]) <= 0.5, what
        top = search(shapes[0])["results"]
        assert at_cut[0] not in {r["consultant_id"] for r in top}
        assert {r["consultant_id"]: r["conflict"] for r in top}.get(at_cut[1]) in ("potential", "waived")
        conn.rollback()
