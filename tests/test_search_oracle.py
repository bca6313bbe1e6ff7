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

from datetime import date

import psycopg
import pytest

from bench.generate import QUICK, ensure_world
from bench.run import TOP, baseline_search, load_seekers, make_queries
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
    today = date.today().isoformat()
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
