"""A large, deterministic world for the search benchmark, generated with set-based SQL.

Everything is derived from `md5(seed:salt:i)`, so the same spec gives the same rows on
every machine: profile ids are md5('bench-consultant:<i>')::uuid and md5('bench-seeker:<i>')::uuid.
Rows are written as the owner role (like a migration) in one transaction, then the
tables are VACUUM ANALYZEd so the planner sees the real distribution.

Per consultant: a home jurisdiction among 12 (8 US states, 4 Canadian provinces,
weighted), 1-3 licences (mean 2, ~7 % expired, ~60 % verified), 2-6 competencies
(mean 4) over the modalities in public.modalities (popular ones more often, levels
weighted 15/35/35/15 %, ~60 % verified, some expired), 1-5 affiliations (mean 3) when a
table public.affiliations exists, weekly hours from 8 patterns (6 % none), intake
settings (12 % not accepting, ~15 % full), languages, fees, formats, years.
Seekers: one licence at home, their own languages. Every member says where they live
(profiles.home_jurisdiction: the home jurisdiction), as requests and bookings require.

The counters availability_settings.active_clients and clients_served are set
directly (the search reads only the counters); no engagement rows are created.

    python bench/generate.py [--quick | --consultants N] [--regenerate]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from portal.db.bootstrap import EmbeddedDatabase, apply_migrations, migration_files, start_embedded  # noqa: E402

GENERATOR_VERSION = 6
DATA_ROOT = Path(__file__).resolve().parent / ".data"

# (code, country, weight, time zone, cities): spread like clinician populations, roughly.
PLACES = [
    ("CA", "US", 16, "America/Los_Angeles", ["Los Angeles", "San Francisco", "Oakland", "San Diego", "Sacramento"]),
    ("NY", "US", 13, "America/New_York", ["New York", "Brooklyn", "Albany", "Buffalo"]),
    ("TX", "US", 11, "America/Chicago", ["Austin", "Houston", "Dallas"]),
    ("FL", "US", 9, "America/New_York", ["Miami", "Tampa", "Orlando"]),
    ("IL", "US", 7, "America/Chicago", ["Chicago", "Evanston"]),
    ("MA", "US", 6, "America/New_York", ["Boston", "Cambridge"]),
    ("WA", "US", 6, "America/Los_Angeles", ["Seattle", "Tacoma"]),
    ("CO", "US", 5, "America/Denver", ["Denver", "Boulder"]),
    ("ON", "CA", 11, "America/Toronto", ["Toronto", "Ottawa", "Hamilton"]),
    ("BC", "CA", 7, "America/Vancouver", ["Vancouver", "Victoria"]),
    ("QC", "CA", 6, "America/Toronto", ["Montreal", "Quebec City"]),
    ("AB", "CA", 3, "America/Edmonton", ["Calgary", "Edmonton"]),
]
US_TYPES = ["LCSW", "LPC", "LMFT", "LMHC", "Psychologist (PhD)", "Psychologist (PsyD)", "Psychiatrist (MD/DO)"]
CA_TYPES = {"ON": "RP (Ontario)", "BC": "RCC (BC)", "QC": "Psychologist (Canada)", "AB": "Psychologist (Canada)"}

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
    "Anna",
    "David",
    "Fatima",
    "Liam",
    "Grace",
    "Omar",
    "Julia",
    "Marcus",
    "Rosa",
    "Adrian",
    "Helen",
    "Victor",
    "Lena",
    "Hugo",
    "Maya",
    "Isaac",
    "Clara",
    "Tariq",
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
    "Roy",
    "Martin",
    "Gagnon",
    "Wong",
    "Hughes",
    "Reyes",
    "Kowalski",
    "Ali",
    "Baker",
    "Costa",
    "Ferreira",
    "Jensen",
    "Kaur",
    "Lee",
    "Morales",
    "Nakamura",
    "Obi",
    "Quinn",
]
PRONOUNS = ["she/her", "he/him", "they/them", "she/they", "he/they", None]
# (languages, weight)
LANGUAGE_MIX = [
    (["en"], 52),
    (["en", "es"], 12),
    (["en", "fr"], 6),
    (["fr", "en"], 5),
    (["en", "zh"], 4),
    (["en", "he"], 2),
    (["en", "pt"], 2),
    (["en", "ko"], 2),
    (["en", "ar"], 2),
    (["en", "hi", "pa"], 2),
    (["en", "asl"], 1),
    (["es", "en"], 4),
    (["en", "ru"], 2),
    (["en", "vi"], 1),
    (["en", "tl"], 1),
    (["en", "fa"], 1),
    (["en", "de"], 1),
]
# Modalities not listed here get weight 3.
MODALITY_WEIGHTS = {
    "cbt": 20,
    "act": 9,
    "psychodynamic": 9,
    "emdr": 8,
    "dbt": 7,
    "mindfulness": 7,
    "ifs": 6,
    "mi": 5,
    "eft": 4,
    "cpt": 4,
    "somatic": 4,
    "family_systems": 4,
    "psychoanalytic": 3,
    "schema": 3,
    "pe": 3,
    "narrative": 3,
    "gottman": 3,
    "sex_therapy": 2,
    "play_therapy": 2,
}
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
# Weekly patterns (ISO weekday, start, end) in the consultant's own zone.
HOUR_PATTERNS = [
    [(d, "08:00", "12:00") for d in (1, 2, 3, 4, 5)],
    [(d, "13:00", "17:00") for d in (1, 2, 3, 4)],
    [(d, "17:30", "20:30") for d in (1, 3, 4)],
    [(6, "09:00", "13:00"), (7, "10:00", "14:00")],
    [(1, "09:00", "12:00"), (2, "14:00", "19:00"), (4, "09:00", "12:00"), (6, "10:00", "12:00")],
    [(2, "07:30", "10:00"), (3, "18:00", "21:00"), (5, "12:00", "16:00")],
    [(d, "10:00", "16:00") for d in (2, 3, 4)],
    [(1, "12:00", "19:00"), (3, "12:00", "19:00"), (6, "09:00", "12:00")],
]
ORG_ADJ = [
    "Riverside",
    "Northside",
    "Lakeview",
    "Harbor",
    "Maple",
    "Cedar",
    "Summit",
    "Bridge",
    "Oak",
    "Pine",
    "Westgate",
    "Eastside",
    "Granite",
    "Willow",
    "Beacon",
    "Meadow",
    "Highland",
    "Valley",
    "Coastal",
    "Prairie",
]
ORG_NOUN = [
    "Counseling",
    "Psychotherapy",
    "Wellness",
    "Family",
    "Trauma",
    "Behavioral Health",
    "Mind",
    "Healing",
    "Child and Family",
    "Couples",
]
ORG_KIND = [
    ("Group", "practice"),
    ("Associates", "practice"),
    ("Clinic", "agency"),
    ("Center", "agency"),
    ("Hospital", "hospital"),
    ("Institute", "university"),
    ("Training Programme", "training_programme"),
    ("Board", "board"),
]
# Declared relationship kinds, repeated by weight (unknown kinds are dropped at generation).
RELATIONSHIP_KINDS = (
    ["colleague"] * 6
    + ["friend"] * 4
    + ["training_cohort"] * 3
    + ["referral_partner"] * 2
    + ["supervisor", "supervisee", "family", "former_client", "committee_board", "employer"]
)
FAKE_HASH = "$2b$12$" + "benchbenchbenchbenchbenchbenchbenchbenchbenchbenchben"
BIG_ASSOCIATIONS = [
    "American Psychological Association",
    "American Counseling Association",
    "National Association of Social Workers",
    "Canadian Psychological Association",
    "American Association for Marriage and Family Therapy",
    "Ontario Association of Mental Health",
]
ROLES = [
    "Staff clinician",
    "Clinical director",
    "Supervisor",
    "Partner",
    "Associate",
    "Intern",
    "Faculty",
    "Board member",
    "Member",
    "Consultant",
]


@dataclass(frozen=True)
class WorldSpec:
    consultants: int
    seekers: int
    seed: int = 2026

    @property
    def name(self) -> str:
        return f"c{self.consultants}-s{self.seekers}-seed{self.seed}"


FULL = WorldSpec(consultants=50_000, seekers=1_000)
QUICK = WorldSpec(consultants=2_000, seekers=100)


@dataclass
class World:
    db: EmbeddedDatabase
    spec: WorldSpec
    info: dict[str, Any]  # counts, generation time, affiliation status, whether reused


def _cumulative(weights: list[float]) -> list[tuple[float, float]]:
    total = float(sum(weights))
    bounds, running = [], 0.0
    for w in weights:
        lo = running / total
        running += w
        bounds.append((lo, running / total))
    bounds[-1] = (bounds[-1][0], 1.0 + 1e-9)
    return bounds


def _helpers_sql(seed: int) -> str:
    # h: 48 deterministic bits; u: uniform in [0, 1). Temporary, gone with the session.
    return f"""
create function pg_temp.h(i bigint, salt text) returns bigint language sql immutable as
$$ select ('x' || substr(md5('{int(seed)}:' || salt || ':' || i::text), 1, 12))::bit(48)::bigint $$;
create function pg_temp.u(i bigint, salt text) returns float8 language sql immutable as
$$ select pg_temp.h(i, salt)::float8 / 281474976710656.0 $$;
"""


def _reference_tables(conn: psycopg.Connection, modalities: list[str]) -> None:
    conn.execute("""
        create temp table b_place (idx int, code text, country text, tz text, cities text[], lo float8, hi float8)
          on commit drop;
        create temp table b_lang (idx int, langs text[], lo float8, hi float8) on commit drop;
        create temp table b_mod (idx int, code text, lo float8, hi float8) on commit drop;
        create temp table b_hours (pattern int, weekday smallint, starts_at time, ends_at time) on commit drop;
        create temp table b_name (kind text, idx int, name text) on commit drop;
        create temp table b_org (idx int, name text, slug text, kind text, big boolean) on commit drop;
    """)
    with conn.cursor() as cur:
        cur.executemany(
            "insert into b_place values (%s, %s, %s, %s, %s, %s, %s)",
            [
                (i, code, country, tz, cities, lo, hi)
                for i, ((code, country, _, tz, cities), (lo, hi)) in enumerate(
                    zip(PLACES, _cumulative([p[2] for p in PLACES]), strict=True)
                )
            ],
        )
        cur.executemany(
            "insert into b_lang values (%s, %s, %s, %s)",
            [
                (i, langs, lo, hi)
                for i, ((langs, _), (lo, hi)) in enumerate(
                    zip(LANGUAGE_MIX, _cumulative([w for _, w in LANGUAGE_MIX]), strict=True)
                )
            ],
        )
        cur.executemany(
            "insert into b_mod values (%s, %s, %s, %s)",
            [
                (i, code, lo, hi)
                for i, (code, (lo, hi)) in enumerate(
                    zip(modalities, _cumulative([MODALITY_WEIGHTS.get(m, 3) for m in modalities]), strict=True)
                )
            ],
        )
        cur.executemany(
            "insert into b_hours values (%s, %s, %s, %s)",
            [(p, d, s, e) for p, pattern in enumerate(HOUR_PATTERNS) for d, s, e in pattern],
        )
        cur.executemany(
            "insert into b_name values (%s, %s, %s)",
            [("first", i, n) for i, n in enumerate(FIRST)] + [("last", i, n) for i, n in enumerate(LAST)],
        )


def _orgs(count: int) -> list[tuple[int, str, str, str, bool]]:
    rows = [
        (i, name, re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-"), "association", True)
        for i, name in enumerate(BIG_ASSOCIATIONS)
    ]
    j = 0
    while len(rows) < count:
        suffix, kind = ORG_KIND[j % len(ORG_KIND)]
        adj = ORG_ADJ[(j // len(ORG_KIND)) % len(ORG_ADJ)]
        noun = ORG_NOUN[(j // (len(ORG_KIND) * len(ORG_ADJ))) % len(ORG_NOUN)]
        cycle = j // (len(ORG_ADJ) * len(ORG_NOUN) * len(ORG_KIND))
        name = f"{adj} {noun} {suffix}" + (f" {cycle + 1}" if cycle else "")
        rows.append((len(rows), name, re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-"), kind, False))
        j += 1
    return rows


_PEOPLE_SQL = """
-- Consultants: one row of derived attributes each, kept for the dependent tables.
create temp table b_c on commit drop as
with base as materialized (  -- width_bucket over the cumulative weights picks the weighted row
  select g.i,
         width_bucket(pg_temp.u(g.i, 'place'), (select array_agg(lo order by idx) from b_place)) - 1 as place_idx,
         width_bucket(pg_temp.u(g.i, 'lang'), (select array_agg(lo order by idx) from b_lang)) - 1 as lang_idx
  from generate_series(1, %(consultants)s) g(i)
)
select b.i,
       md5('bench-consultant:' || b.i)::uuid as id,
       p.code as home, p.country, p.tz,
       p.cities[1 + pg_temp.h(b.i, 'city') %% cardinality(p.cities)] as home_city,
       array(select q.code from b_place q where q.country = p.country and q.code <> p.code order by q.idx)
         as others,
       case when pg_temp.u(b.i, 'dr') < 0.3 then 'Dr. ' else '' end
         || (array[%(first_names)s])[1 + pg_temp.h(b.i, 'first') %% %(nfirst)s]
         || ' ' || chr(65 + (pg_temp.h(b.i, 'initial') %% 26)::int) || '. '
         || (array[%(last_names)s])[1 + pg_temp.h(b.i, 'last') %% %(nlast)s]
         as display_name,
       (array['she/her','he/him','they/them','she/they','he/they',null])[1 + pg_temp.h(b.i, 'pronouns') %% 6]
         as pronouns,
       l.langs as languages,
       pg_temp.u(b.i, 'in_person') < 0.45 as in_person,
       pg_temp.u(b.i, 'telehealth') < 0.7 as tele_too,
       pg_temp.u(b.i, 'show_city') < 0.5 as show_city,
       case when pg_temp.u(b.i, 'no_fee') < 0.04 then null
            else 70 + 5 * ((pg_temp.h(b.i, 'fee1') %% 24) + (pg_temp.h(b.i, 'fee2') %% 24))::int end as fee_usd,
       pg_temp.u(b.i, 'sliding') < 0.35 as sliding_scale,
       case when pg_temp.u(b.i, 'no_years') < 0.03 then null
            else ((pg_temp.h(b.i, 'years1') %% 36) + (pg_temp.h(b.i, 'years2') %% 6))::int end as years,
       (array[%(focus)s])[1 + pg_temp.h(b.i, 'focus') %% %(nfocus)s] as focus,
       case when pg_temp.u(b.i, 'nlic') < 0.25 then 1 when pg_temp.u(b.i, 'nlic') < 0.75 then 2 else 3 end as nlic,
       (array[%(us_types)s])[1 + pg_temp.h(b.i, 'us_type') %% %(n_us_types)s] as us_type,
       case when pg_temp.u(b.i, 'ncomp') < 0.15 then 2 when pg_temp.u(b.i, 'ncomp') < 0.35 then 3
            when pg_temp.u(b.i, 'ncomp') < 0.65 then 4 when pg_temp.u(b.i, 'ncomp') < 0.85 then 5 else 6 end as ncomp
from base b
join b_place p on p.idx = b.place_idx
join b_lang l on l.idx = b.lang_idx;

create temp table b_s on commit drop as
with base as materialized (
  select g.i,
         width_bucket(pg_temp.u(g.i, 's-place'), (select array_agg(lo order by idx) from b_place)) - 1 as place_idx,
         width_bucket(pg_temp.u(g.i, 's-lang'), (select array_agg(lo order by idx) from b_lang)) - 1 as lang_idx
  from generate_series(1, %(seekers)s) g(i)
)
select b.i, md5('bench-seeker:' || b.i)::uuid as id, p.code as home, p.country, p.tz,
       p.cities[1 + pg_temp.h(b.i, 's-city') %% cardinality(p.cities)] as home_city,
       (array[%(first_names)s])[1 + pg_temp.h(b.i, 's-first') %% %(nfirst)s]
         || ' ' || (array[%(last_names)s])[1 + pg_temp.h(b.i, 's-last') %% %(nlast)s]
         as display_name,
       l.langs as languages,
       (array[%(us_types)s])[1 + pg_temp.h(b.i, 's-type') %% %(n_us_types)s] as us_type
from base b
join b_place p on p.idx = b.place_idx
join b_lang l on l.idx = b.lang_idx;

-- Every member says where they live (profiles.home_jurisdiction): requests and bookings need it.
insert into public.profiles (id, display_name, pronouns, languages, offers_telehealth, offers_in_person, city,
                             fee_usd, sliding_scale, years_in_practice, timezone, bio, is_consultant,
                             home_jurisdiction)
select id, display_name, pronouns, languages, (not in_person) or tele_too, in_person,
       case when in_person or show_city then home_city end, fee_usd, sliding_scale, years, tz,
       coalesce(years::text || ' years in practice. ', '') || 'Works with clinicians on ' || focus || '.', true,
       home
from b_c order by i;

insert into public.profiles (id, display_name, languages, years_in_practice, timezone, is_consultant,
                             home_jurisdiction)
select id, display_name, languages, (pg_temp.h(i, 's-years') %% 30)::int, tz, false, home from b_s order by i;
"""

_LICENCES_SQL = """
insert into public.licenses (profile_id, license_type, license_number, jurisdiction, expires_on,
                             verification_status, verified_at)
select v.id,
       case when v.country = 'US' then v.us_type else %(ca_types)s::jsonb ->> v.code end,
       v.code || '-' || lpad((pg_temp.h(v.i, 'licno' || v.k) %% 1000000)::text, 6, '0'),
       v.code,
       case when pg_temp.u(v.i, 'lic_expired' || v.k) < 0.07
            then current_date - (1 + pg_temp.h(v.i, 'lic_ago' || v.k) %% 400)::int
            else current_date + (20 + pg_temp.h(v.i, 'lic_until' || v.k) %% 1000)::int end,
       case when v.ver < 0.60 then 'verified' when v.ver < 0.63 then 'rejected' else 'self_attested' end,
       case when v.ver < 0.60
            then now() - make_interval(days => (pg_temp.h(v.i, 'lic_vat' || v.k) %% 700)::int) end
from (
  -- The verification draw once per licence (the same value as drawing it in place).
  select c.i, c.id, c.country, c.us_type, j.k, j.code, pg_temp.u(c.i, 'lic_ver' || j.k) as ver
  from b_c c
  cross join lateral (
    select r1, (r1 + 1 + pg_temp.h(c.i, 'lic_r2') %% (cardinality(c.others) - 1)) %% cardinality(c.others) as r2
    from (select (pg_temp.h(c.i, 'lic_r1') %% cardinality(c.others))::int as r1) x
  ) r
  cross join lateral (
    values (1, c.home), (2, c.others[1 + r.r1]), (3, c.others[1 + r.r2])
  ) j(k, code)
  where j.k <= c.nlic
  offset 0
) v;

insert into public.licenses (profile_id, license_type, license_number, jurisdiction, expires_on,
                             verification_status, verified_at)
select s.id, case when s.country = 'US' then s.us_type else %(ca_types)s::jsonb ->> s.home end,
       s.home || '-S' || lpad((pg_temp.h(s.i, 's-licno') %% 1000000)::text, 6, '0'), s.home,
       current_date + (30 + pg_temp.h(s.i, 's-lic_until') %% 900)::int,
       case when pg_temp.u(s.i, 's-lic_ver') < 0.6 then 'verified' else 'self_attested' end,
       case when pg_temp.u(s.i, 's-lic_ver') < 0.6 then now() end
from b_s s;
"""

_COMPETENCIES_SQL = """
insert into public.competencies (consultant_id, modality, level, evidence_body, evidence_credential, evidence_year,
                                 training_hours, expires_on, verification_status, verified_at)
select x.id, x.code, x.level,
       'Training body for ' || x.code,
       upper(left(x.code, 3)) || '-' || (pg_temp.h(x.i, 'cred' || x.code) %% 100000)::text,
       (1995 + pg_temp.h(x.i, 'year' || x.code) %% 31)::smallint,
       case x.level when 1 then 8 + x.hrs %% 25
                    when 2 then 30 + x.hrs %% 90
                    when 3 then 100 + x.hrs %% 300
                    else 400 + x.hrs %% 1100 end,
       case when pg_temp.u(x.i, 'c_expiry' || x.code) < 0.20
            then case when pg_temp.u(x.i, 'c_expired' || x.code) < 0.30
                      then current_date - (1 + pg_temp.h(x.i, 'c_ago' || x.code) %% 500)::int
                      else current_date + (30 + pg_temp.h(x.i, 'c_until' || x.code) %% 1200)::int end end,
       case when x.ver < 0.60 then 'verified' when x.ver < 0.62 then 'rejected' else 'self_attested' end,
       case when x.ver < 0.60
            then now() - make_interval(days => (pg_temp.h(x.i, 'c_vat' || x.code) %% 900)::int) end
from (
  -- Each draw computed once per kept competency (the same values as drawing them in place).
  select k.i, k.id, k.code,
         case when k.lv < 0.15 then 1 when k.lv < 0.50 then 2 when k.lv < 0.85 then 3 else 4 end::smallint as level,
         k.ver, k.hrs
  from (
    select p.i, p.id, p.code, pg_temp.u(p.i, 'level' || p.code) as lv, pg_temp.u(p.i, 'c_ver' || p.code) as ver,
           pg_temp.h(p.i, 'hrs' || p.code) as hrs
    from (
      select d.i, d.id, d.code, row_number() over (partition by d.i order by d.first_draw) as pick, d.ncomp
      from (
        -- 16 weighted draws per consultant; the first ncomp distinct modalities are kept.
        select c.i, c.id, c.ncomp, m.code, min(c.n) as first_draw
        from (select c.i, c.id, c.ncomp, dr.n,
                     width_bucket(pg_temp.u(c.i, 'mod' || dr.n), (select array_agg(lo order by idx) from b_mod)) - 1
                       as mod_idx
              from b_c c cross join generate_series(1, 16) dr(n)) c
        join b_mod m on m.idx = c.mod_idx
        group by c.i, c.id, c.ncomp, m.code
      ) d
    ) p
    where p.pick <= p.ncomp
    offset 0  -- computed once each, not once per use
  ) k
) x;
"""

# The weekly-hours trigger keeps availability_settings.time_buckets; it runs once per row (at 500,000
# consultants, minutes); statement triggers check each inserted row against the consultant's others (the
# generated patterns never overlap). For a bulk load they are switched off and the buckets are set in the same
# statement as the intake settings, with the expression of the migration's trigger function
# (private.refresh_time_buckets) read from the catalogue, so they are the trigger's own.
_AVAILABILITY_SQL = """
alter table public.weekly_hours disable trigger user;
insert into public.weekly_hours (consultant_id, weekday, starts_at, ends_at)
select c.id, h.weekday, h.starts_at, h.ends_at
from (select c.id, pg_temp.h(c.i, 'hours') %% %(npatterns)s as pattern from b_c c
      where pg_temp.u(c.i, 'no_hours') >= 0.06) c
join b_hours h on h.pattern = c.pattern;
alter table public.weekly_hours enable trigger user;

update public.availability_settings s
set time_buckets = coalesce(b.buckets, 0),
    accepting_new_clients = pg_temp.u(c.i, 'accepting') >= 0.12,
    capacity = v.capacity,
    active_clients = v.active,
    clients_served = v.active + (pg_temp.h(c.i, 'served') %% 7)::int,
    session_minutes = (array[45, 50, 50, 50, 60, 90])[1 + pg_temp.h(c.i, 'session') %% 6]
from b_c c
cross join lateral (
  select cap as capacity,
         case when pg_temp.u(c.i, 'full') < 0.15 then cap
              else floor(pg_temp.u(c.i, 'active') * cap)::int end as active
  from (select (2 + pg_temp.h(c.i, 'capacity') %% 11)::int as cap) k
) v
left join (%(buckets_sql)s) b on b.consultant_id = c.id
where s.consultant_id = c.id;
"""


# --------------------------------------------------------------------------------------
# Affiliations: generated to match whatever columns public.affiliations has.
# --------------------------------------------------------------------------------------
@dataclass
class _Column:
    name: str
    data_type: str
    udt: str
    nullable: bool
    has_default: bool
    generated: bool
    fk: tuple[str, str, str] | None = None  # (schema, table, column)
    allowed: list[str] | None = None


def _columns(conn: psycopg.Connection, schema: str, table: str) -> list[_Column]:
    cols = [
        _Column(name, dtype, udt, nullable == "YES", default is not None, generated == "ALWAYS" or identity == "YES")
        for name, dtype, udt, nullable, default, generated, identity in conn.execute(
            """select column_name, data_type, udt_name, is_nullable, column_default, is_generated, is_identity
               from information_schema.columns where table_schema = %s and table_name = %s
               order by ordinal_position""",
            (schema, table),
        )
    ]
    by_name = {c.name: c for c in cols}
    fks = conn.execute(
        """select a.attname, nf.nspname, cf.relname, af.attname
           from pg_constraint k
           join pg_class c on c.oid = k.conrelid join pg_namespace n on n.oid = c.relnamespace
           join pg_class cf on cf.oid = k.confrelid join pg_namespace nf on nf.oid = cf.relnamespace
           cross join lateral unnest(k.conkey, k.confkey) as u(ck, fk)
           join pg_attribute a on a.attrelid = k.conrelid and a.attnum = u.ck
           join pg_attribute af on af.attrelid = k.confrelid and af.attnum = u.fk
           where k.contype = 'f' and n.nspname = %s and c.relname = %s""",
        (schema, table),
    ).fetchall()
    for col, fschema, ftable, fcol in fks:
        by_name[col].fk = (fschema, ftable, fcol)
    checks = conn.execute(
        """select a.attname, pg_get_constraintdef(k.oid)
           from pg_constraint k
           join pg_class c on c.oid = k.conrelid join pg_namespace n on n.oid = c.relnamespace
           join pg_attribute a on a.attrelid = k.conrelid and a.attnum = k.conkey[1]
           where k.contype = 'c' and cardinality(k.conkey) = 1 and n.nspname = %s and c.relname = %s""",
        (schema, table),
    ).fetchall()
    for col, definition in checks:
        if "ANY (ARRAY[" in definition or " IN (" in definition.upper():
            values = re.findall(r"'((?:[^']|'')*)'::", definition)
            if values:
                by_name[col].allowed = [v.replace("''", "'") for v in values]
    return cols


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _pick(values: list[str], key: str) -> str:
    return f"(array[{', '.join(_lit(v) for v in values)}])[1 + pg_temp.h(a.k, {_lit(key)}) % {len(values)}]"


def _expression(col: _Column, parent_arrays: dict[str, str]) -> str | None:
    """SQL for one column over the row source `a` (k, profile_id, org_*, start_day, end_day); None = default."""
    name, t = col.name.lower(), col.data_type
    if col.generated:
        return None
    if col.fk is not None:
        if col.fk[1] == "profiles":
            return "a.profile_id"
        array = parent_arrays[col.name]
        return f"({array})[1 + (a.org_idx % cardinality({array}))]"
    if col.allowed:
        if "kind" in name or "type" in name:  # the organisation's own kind when the constraint allows it
            listed = ", ".join(_lit(v) for v in col.allowed)
            return f"case when a.org_kind in ({listed}) then a.org_kind else {_pick(col.allowed, col.name)} end"
        return _pick(col.allowed, col.name)
    if col.has_default and name in {"id", "created_at", "updated_at", "version"}:
        return None
    if t in ("text", "character varying", "citext") or col.udt == "citext":
        if "domain" in name:
            return (
                "case when pg_temp.u(a.k, 'domain') < 0.7 then a.org_slug || '.example.org' end"
                if col.nullable
                else "a.org_slug || '.example.org'"
            )
        if "norm" in name:
            return "lower(a.org_name)"
        if (
            name
            in {
                "name",
                "organisation",
                "organization",
                "org",
                "organisation_name",
                "organization_name",
                "org_name",
                "employer",
            }
            or name.endswith("_name")
            or "organi" in name
        ):
            return "a.org_name"
        if "role" in name or "title" in name or "position" in name:
            return _pick(ROLES, "role")
        if "kind" in name or "type" in name:
            return "a.org_kind"
        if col.has_default:
            return None
        return "null" if col.nullable else "'bench ' || a.k"
    if t == "date" or t.startswith("timestamp"):
        cast = "::date" if t == "date" else "::timestamptz"
        if any(s in name for s in ("start", "from", "since", "began", "begin")):
            return f"(date '1995-01-01' + a.start_day){cast}"
        if any(s in name for s in ("end", "until", "to", "left")):
            if col.nullable:  # 40 % are current: no end yet
                return f"case when a.current then null else (date '1995-01-01' + a.end_day){cast} end"
            return f"(date '1995-01-01' + a.end_day){cast}"
        if col.has_default:
            return None
        return "null" if col.nullable else f"(date '1995-01-01' + a.start_day){cast}"
    if t == "daterange":
        return (
            "daterange(date '1995-01-01' + a.start_day, case when not a.current then date '1995-01-01' + a.end_day end)"
        )
    if t == "tstzrange":
        return (
            "tstzrange((date '1995-01-01' + a.start_day)::timestamptz,"
            " case when not a.current then (date '1995-01-01' + a.end_day)::timestamptz end)"
        )
    if t in ("smallint", "integer", "bigint") and "year" in name:
        if any(s in name for s in ("end", "until", "to")):
            return "extract(year from date '1995-01-01' + a.end_day)::int"
        return "extract(year from date '1995-01-01' + a.start_day)::int"
    if t == "boolean":
        if col.has_default:
            return None
        if "large" in name or "big" in name or "association" in name:
            return "a.org_big"
        return "null" if col.nullable else "false"
    if col.has_default:
        return None
    if col.nullable:
        return "null"
    if t == "uuid":
        return "md5('bench-affiliation:' || a.k)::uuid"
    if t == "ARRAY":
        return "'{}'"
    raise ValueError(f"cannot fill required column {col.name} ({t})")


def _fill_table(
    conn: psycopg.Connection,
    schema: str,
    table: str,
    source_sql: str,
    parents: dict[str, str],
    cols: list[_Column] | None = None,
) -> int:
    cols = cols if cols is not None else _columns(conn, schema, table)
    names, exprs = [], []
    for col in cols:
        expr = _expression(col, parents)
        if expr is not None:
            names.append(f'"{col.name}"')
            exprs.append(expr)
    sql = (
        f'insert into "{schema}"."{table}" ({", ".join(names)}) select {", ".join(exprs)} '
        f"from ({source_sql}) a on conflict do nothing"
    )
    return conn.execute(sql).rowcount


def _affiliations(conn: psycopg.Connection, consultants: int, columns: list[_Column]) -> dict[str, Any]:
    """`columns`: the table's shape, read before its keys were dropped for the load (_optional runs this only when
    the table exists)."""
    orgs = _orgs(max(60, consultants // 8))
    with conn.cursor() as cur:
        cur.executemany("insert into b_org values (%s, %s, %s, %s, %s)", orgs)
    # Rows: 1-5 per member, consultants and seekers (mean 3); a quarter in one of the big associations.
    source = f"""
        select c.i * 10 + n as k, c.id as profile_id, o.idx as org_idx, o.name as org_name, o.slug as org_slug,
               o.kind as org_kind, o.big as org_big, s.start_day,
               s.start_day + 365 + (pg_temp.h(c.i * 10 + n, 'aff_len') % 4000)::int as end_day,
               pg_temp.u(c.i * 10 + n, 'aff_current') < 0.4 as current
        from (select i, id from b_c union all select 1000000 + i, id from b_s) c
        cross join lateral generate_series(1, case when pg_temp.u(c.i, 'naff') < 0.10 then 1
                                                   when pg_temp.u(c.i, 'naff') < 0.35 then 2
                                                   when pg_temp.u(c.i, 'naff') < 0.65 then 3
                                                   when pg_temp.u(c.i, 'naff') < 0.90 then 4 else 5 end) n
        cross join lateral (select (pg_temp.h(c.i * 10 + n, 'aff_start') % 10000)::int as start_day) s
        join b_org o on o.idx = case when pg_temp.u(c.i * 10 + n, 'aff_big') < 0.25
                                     then (pg_temp.h(c.i * 10 + n, 'aff_org') % {len(BIG_ASSOCIATIONS)})::int
                                     else {len(BIG_ASSOCIATIONS)} + (pg_temp.h(c.i * 10 + n, 'aff_org')
                                          % {len(orgs) - len(BIG_ASSOCIATIONS)})::int end
    """
    parents: dict[str, str] = {}
    described = []
    for col in columns:
        described.append(f"{col.name} {col.data_type}")
        if col.fk is not None and col.fk[1] != "profiles":
            fschema, ftable, fcol = col.fk
            empty = not conn.execute(f'select exists (select 1 from "{fschema}"."{ftable}")').fetchone()[0]
            if empty:  # e.g. an organisations table: one row per generated organisation
                _fill_table(
                    conn,
                    fschema,
                    ftable,
                    "select o.idx as k, null::uuid as profile_id, o.idx as org_idx, o.name as org_name, "
                    "o.slug as org_slug, o.kind as org_kind, o.big as org_big, 0 as start_day, "
                    "3650 as end_day, true as current from b_org o",
                    {},
                )
            parents[col.name] = f'select array_agg("{fcol}" order by "{fcol}") from "{fschema}"."{ftable}"'
    rows = _fill_table(conn, "public", "affiliations", source, {k: f"({v})" for k, v in parents.items()}, columns)
    return {"status": f"generated ({', '.join(described)})", "rows": rows}


_CREDENTIALS_SQL = """
insert into private.credentials (user_id, username, email, password_hash)
select id, 'bench_c' || i, 'bench.c' || i || '@bench.example', %(hash)s from b_c
union all
select id, 'bench_s' || i, 'bench.s' || i || '@bench.example', %(hash)s from b_s;
"""

# Seekers declare 0-4 relationships (mean 2), consultants 0-2 (mean 0.6): half name a member by id,
# a quarter by name and the member's email, a quarter someone outside the portal.
_RELATIONSHIPS_SQL = """
create index on b_c (i);
insert into public.declared_relationships (declarer_id, counterpart_id, counterpart_name, counterpart_email, kind,
                                           starts_on, ends_on)
select d.declarer, case when d.mode < 0.5 then t.id end,
       case when d.mode >= 0.5 then case when d.mode < 0.75 then t.display_name else 'Outside person ' || d.k end end,
       case when d.mode >= 0.5 then case when d.mode < 0.75 then 'bench.c' || t.i || '@bench.example'
                                          else 'person' || d.k || '@elsewhere.example' end end,
       d.kind, date '2000-01-01' + d.start_day,
       case when pg_temp.u(d.k, 'rel_current') < 0.5 then null
            else date '2000-01-01' + d.start_day + 200 + (pg_temp.h(d.k, 'rel_len') %% 3000)::int end
from (
  select x.declarer, x.k, x.target, pg_temp.u(x.k, 'rel_mode') as mode,
         (array[%(kinds)s])[1 + pg_temp.h(x.k, 'rel_kind') %% %(nkinds)s] as kind,
         (pg_temp.h(x.k, 'rel_start') %% 8000)::int as start_day
  from (
    select s.id as declarer, s.i * 10 + n as k, 1 + pg_temp.h(s.i * 10 + n, 'rel_target') %% %(consultants)s as target
    from b_s s cross join lateral generate_series(1, (pg_temp.h(s.i, 'nrel') %% 5)::int) n
    union all
    select c.id, 100000000 + c.i * 10 + n,
           1 + (c.i + pg_temp.h(c.i * 10 + n, 'rel_target') %% (%(consultants)s - 1)) %% %(consultants)s
    from b_c c cross join lateral generate_series(1, case when pg_temp.u(c.i, 'nrel') < 0.6 then 1 else 0 end
                                                    + case when pg_temp.u(c.i, 'nrel2') < 0.1 then 1 else 0 end) n
  ) x
) d
join b_c t on t.i = d.target;
"""


def _buckets_sql(conn: psycopg.Connection) -> str:
    """Each consultant's time buckets from their weekly hours, with the expression of the migration's own trigger
    function (private.refresh_time_buckets), so a bulk load sets them as the trigger would."""
    body = conn.execute("select pg_get_functiondef('private.refresh_time_buckets()'::regprocedure)").fetchone()[0]
    found = re.search(
        r"select\s+(bit_or\(.*?\))\s*from public\.weekly_hours h\s+where h\.consultant_id = who", body, re.S
    )
    if not found:
        raise RuntimeError("private.refresh_time_buckets no longer has the shape the generator reads")
    return f"select h.consultant_id, {found.group(1)} as buckets from public.weekly_hours h group by h.consultant_id"


def _drop_secondary_indexes(conn: psycopg.Connection, tables: list[str]) -> list[str]:
    """Drop the indexes of these tables that back no constraint (unique ones too: made again after the load, a
    duplicate fails loudly); returns the statements that make them again."""
    rows = conn.execute(
        """
        select format('%%I.%%I', n.nspname, c.relname), pg_catalog.pg_get_indexdef(i.indexrelid)
        from pg_catalog.pg_index i
        join pg_catalog.pg_class c on c.oid = i.indexrelid
        join pg_catalog.pg_namespace n on n.oid = c.relnamespace
        where i.indrelid = any (array(select to_regclass(t) from unnest(%s::text[]) t where to_regclass(t) is not null))
          and not exists (select 1 from pg_catalog.pg_constraint k where k.conindid = i.indexrelid)
        order by 1""",
        (tables,),
    ).fetchall()
    for name, _ in rows:
        conn.execute(f"drop index {name}")
    return [definition for _, definition in rows]


def _drop_keys(conn: psycopg.Connection, tables: list[str]) -> list[str]:
    """Drop the primary keys, unique constraints and foreign keys of these tables, and the foreign keys that point at
    them; returns the statements that add them again, keys first. As pg_restore does: a key built once by sorting
    instead of row by row into a b-tree keyed by random uuids (at 500,000 consultants most of a table's load time),
    and each foreign key checked by one join when it is added back, so the rows are checked as before."""
    rows = conn.execute(
        """
        with loaded as (select to_regclass(t) as rel from unnest(%s::text[]) t where to_regclass(t) is not null)
        select k.contype, format('alter table %%s drop constraint %%I', k.conrelid::regclass, k.conname),
               format('alter table %%s add constraint %%I %%s', k.conrelid::regclass, k.conname,
                      pg_catalog.pg_get_constraintdef(k.oid))
        from pg_catalog.pg_constraint k
        where (k.contype in ('p', 'u', 'f') and k.conrelid in (select rel from loaded))
           or (k.contype = 'f' and k.confrelid in (select rel from loaded))
        order by k.contype = 'f' desc, 2""",
        (tables,),
    ).fetchall()
    for _, drop, _ in rows:
        conn.execute(drop)
    return [add for _, _, add in sorted(rows, key=lambda r: (r[0] == "f", r[2]))]


def _exists(conn: psycopg.Connection, table: str) -> bool:
    return conn.execute("select to_regclass(%s) is not null", (table,)).fetchone()[0]


def _optional(conn: psycopg.Connection, table: str, run) -> dict[str, Any]:
    """Run one optional step in a savepoint: a missing table or a changed shape is reported, not fatal."""
    if not _exists(conn, table):
        return {"status": f"skipped: table {table} does not exist", "rows": None}
    conn.execute("savepoint optional_step")
    try:
        result = run()
        conn.execute("release savepoint optional_step")
        return result
    except (psycopg.Error, ValueError, KeyError) as exc:
        conn.execute("rollback to savepoint optional_step")
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return {"status": f"skipped: could not generate ({message[:160]})", "rows": None}


def _refresh_facts_in_parallel(owner_conninfo: str, chunk: int = 500) -> None:
    """Every member's facts by the migration's own private.refresh_search_facts, in chunks of at most 500 (a larger
    call takes the lock over all facts, which would serialise the workers), one connection per core, each chunk its
    own transaction (its per-consultant locks are released at once)."""
    with psycopg.connect(owner_conninfo) as conn:
        ids = [r[0] for r in conn.execute("select id from public.profiles order by id")]
    chunks = [ids[i : i + chunk] for i in range(0, len(ids), chunk)]
    workers = max(1, min(os.cpu_count() or 1, 4))

    def work(part: list[list[Any]]) -> None:
        with psycopg.connect(owner_conninfo, autocommit=True) as conn:
            conn.execute("set synchronous_commit = off")
            for ids_ in part:
                conn.execute("select private.refresh_search_facts(%s::uuid[])", (ids_,))

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for done in [pool.submit(work, chunks[w::workers]) for w in range(workers)]:
            done.result()


def generate(owner_conninfo: str, spec: WorldSpec, log=print) -> dict[str, Any]:
    """Fill an empty bench database; returns counts and timings."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    with psycopg.connect(owner_conninfo) as conn:
        if conn.execute("select exists (select 1 from public.profiles)").fetchone()[0]:
            raise RuntimeError("the bench database already has profiles; generate into an empty one")
        conn.execute(_helpers_sql(spec.seed))
        modalities = [r[0] for r in conn.execute("select code from public.modalities order by code")]
        _reference_tables(conn, modalities)
        params = {
            "consultants": spec.consultants,
            "seekers": spec.seekers,
            "nfirst": len(FIRST),
            "nlast": len(LAST),
            "nfocus": len(FOCUS),
            "n_us_types": len(US_TYPES),
            "npatterns": len(HOUR_PATTERNS),
            "ca_types": json.dumps(CA_TYPES),
            "hash": FAKE_HASH,
        }
        # Lists go into the SQL text as literals (the SQL is ours, the values are constants above).
        text_params = {
            "focus": ", ".join(_lit(f) for f in FOCUS),
            "us_types": ", ".join(_lit(t) for t in US_TYPES),
            "buckets_sql": _buckets_sql(conn),
            # Names by index from array literals (the same picks as a lookup in b_name, without a scan
            # of it per row).
            "first_names": ", ".join(_lit(n) for n in FIRST),
            "last_names": ", ".join(_lit(n) for n in LAST),
        }
        # A bulk load: no wait for the WAL at each statement, and room to build indexes in memory.
        conn.execute("set synchronous_commit = off")
        conn.execute("set maintenance_work_mem = '512MB'")
        conn.execute("set work_mem = '256MB'")

        def run(step: str, sql: str) -> None:
            t0 = time.perf_counter()
            for statement in [s for s in sql.split(";\n") if s.strip()]:
                for key, value in text_params.items():
                    statement = statement.replace(f"%({key})s", value.replace("%", "%%"))
                # Always a dict, so that psycopg turns %% into % even when nothing is bound.
                conn.execute(statement, {k: v for k, v in params.items() if f"%({k})s" in statement})
            timings[step] = round(time.perf_counter() - t0, 2)
            log(f"  {step:<14} {timings[step]:6.2f} s")

        # The search facts follow each statement's changes through triggers; a bulk load row by row
        # through the time-bucket and capacity triggers would refresh them once per row (minutes).
        # They are switched off for the load and computed once at the end by the migration's own function.
        facts_triggers = conn.execute("""
            select t.tgrelid::regclass::text, t.tgname from pg_catalog.pg_trigger t
            where not t.tgisinternal and t.tgname like 'search\\_facts\\_%'""").fetchall()
        # The entries of private.search_rank follow the facts statement by statement: built once at the end.
        facts_triggers += conn.execute("""
            select t.tgrelid::regclass::text, t.tgname from pg_catalog.pg_trigger t
            where not t.tgisinternal and t.tgname like 'search\\_rank\\_%'""").fetchall()
        # The refusal triggers (`*_in_sentences`) word a member's mistakes; with the keys dropped for the load their
        # lookups would scan whole tables for every generated row (60 s at 50,000). The constraints, added back
        # after the load and checked there, stay the last word on the generated rows.
        facts_triggers += conn.execute("""
            select t.tgrelid::regclass::text, t.tgname from pg_catalog.pg_trigger t
            where not t.tgisinternal and t.tgname like '%\\_in\\_sentences'""").fetchall()
        # Room opening tells those waiting (the waitlist): a generated world has nobody waiting, and the row trigger
        # on the intake settings would look for waits once per consultant (56 s at 50,000).
        facts_triggers += conn.execute("""
            select t.tgrelid::regclass::text, t.tgname from pg_catalog.pg_trigger t
            where not t.tgisinternal and t.tgname like '%\\_tells\\_the\\_waiting'""").fetchall()
        for table, trigger in facts_triggers:
            conn.execute(f'alter table {table} disable trigger "{trigger}"')
        # Secondary indexes (none backing a constraint), then keys and foreign keys, are built after the rows are in.
        loaded = [
            "public.profiles",
            "public.availability_settings",
            "public.licenses",
            "public.competencies",
            "public.weekly_hours",
            "private.credentials",
            "public.affiliations",
            "public.declared_relationships",
        ]
        secondary = _drop_secondary_indexes(conn, loaded)
        # The affiliations are generated to fit the table's columns and foreign keys: read before the keys go.
        affiliation_columns = _columns(conn, "public", "affiliations")  # none when there is no such table
        keys = _drop_keys(conn, loaded)
        # Each new profile's default intake settings, inserted by a row trigger: here in one statement.
        settings_trigger = conn.execute("""
            select exists (select 1 from pg_catalog.pg_trigger t
                           where t.tgrelid = 'public.profiles'::regclass and t.tgname = 'profiles_create_settings')
        """).fetchone()[0]
        if settings_trigger:
            conn.execute("alter table public.profiles disable trigger profiles_create_settings")
        run("profiles", _PEOPLE_SQL)
        if settings_trigger:
            conn.execute("alter table public.profiles enable trigger profiles_create_settings")
            conn.execute(
                "insert into public.availability_settings (consultant_id) select id from public.profiles "
                "on conflict do nothing"
            )
        run("licences", _LICENCES_SQL)
        run("competencies", _COMPETENCIES_SQL)
        run("availability", _AVAILABILITY_SQL)
        run("credentials", _CREDENTIALS_SQL)
        t0 = time.perf_counter()
        affiliations = _optional(
            conn, "public.affiliations", lambda: _affiliations(conn, spec.consultants, affiliation_columns)
        )
        timings["affiliations"] = round(time.perf_counter() - t0, 2)
        log(f"  {'affiliations':<14} {timings['affiliations']:6.2f} s  {affiliations['status']}")

        def relationships() -> dict[str, Any]:
            known = {r[0] for r in conn.execute("select kind from public.conflict_rules where not derived")}
            kinds = [k for k in RELATIONSHIP_KINDS if k in known]
            if not kinds:
                raise ValueError("no declarable relationship kinds")
            params["nkinds"] = len(kinds)
            text_params["kinds"] = ", ".join(_lit(k) for k in kinds)
            before = conn.execute("select count(*) from public.declared_relationships").fetchone()[0]
            run("relationships", _RELATIONSHIPS_SQL)
            rows = conn.execute("select count(*) from public.declared_relationships").fetchone()[0] - before
            return {"status": "generated", "rows": rows}

        t0 = time.perf_counter()
        relationships_info = _optional(conn, "public.declared_relationships", relationships)
        if relationships_info["rows"] is None:
            log(f"  {'relationships':<14} {time.perf_counter() - t0:6.2f} s  {relationships_info['status']}")
        t0 = time.perf_counter()
        for statement in secondary:
            conn.execute(statement)
        timings["indexes"] = round(time.perf_counter() - t0, 2)
        log(f"  {'indexes':<14} {timings['indexes']:6.2f} s")
        t0 = time.perf_counter()
        for statement in keys:
            conn.execute(statement)
        timings["keys"] = round(time.perf_counter() - t0, 2)
        log(f"  {'keys':<14} {timings['keys']:6.2f} s")
        facts_indexes = _drop_secondary_indexes(conn, ["private.search_facts"]) if facts_triggers else []
        # The rows are in: committed, so that the facts can be computed from them on several connections.
        conn.commit()
    tables = [
        "public.profiles",
        "public.licenses",
        "public.competencies",
        "public.weekly_hours",
        "public.availability_settings",
    ]
    with psycopg.connect(owner_conninfo, autocommit=True) as conn:
        tables += [
            t
            for t in ("public.affiliations", "public.declared_relationships", "private.credentials")
            if _exists(conn, t)
        ]
        try:
            # Statistics, and the visibility map that lets the facts read competencies and licences from their
            # indexes alone.
            t0 = time.perf_counter()
            conn.execute(f"vacuum (analyze) {', '.join(tables)}")
            timings["vacuum_analyze"] = round(time.perf_counter() - t0, 2)
            log(f"  {'vacuum analyze':<14} {timings['vacuum_analyze']:6.2f} s")
            if facts_triggers:
                t0 = time.perf_counter()
                _refresh_facts_in_parallel(owner_conninfo)
                timings["search facts"] = round(time.perf_counter() - t0, 2)
                log(f"  {'search facts':<14} {timings['search facts']:6.2f} s")
                t0 = time.perf_counter()
                conn.execute("set maintenance_work_mem = '512MB'")
                for statement in facts_indexes:
                    conn.execute(statement)
                if conn.execute("select to_regprocedure('private.rebuild_search_rank()') is not null").fetchone()[0]:
                    with conn.transaction():
                        conn.execute("select private.rebuild_search_rank()")
                timings["search rank"] = round(time.perf_counter() - t0, 2)
                log(f"  {'search rank':<14} {timings['search rank']:6.2f} s")
        finally:
            for table, trigger in facts_triggers:
                conn.execute(f'alter table {table} enable trigger "{trigger}"')
        t0 = time.perf_counter()
        facts_tables = [t for t in ("private.search_facts", "private.search_rank") if _exists(conn, t)]
        if facts_tables:
            conn.execute(f"vacuum (analyze) {', '.join(facts_tables)}")
        counts = {
            "consultants": conn.execute("select count(*) from public.profiles where is_consultant").fetchone()[0],
            "seekers": conn.execute("select count(*) from public.profiles where not is_consultant").fetchone()[0],
            "licences": conn.execute("select count(*) from public.licenses").fetchone()[0],
            "competencies": conn.execute("select count(*) from public.competencies").fetchone()[0],
            "weekly_hours": conn.execute("select count(*) from public.weekly_hours").fetchone()[0],
            "affiliations": affiliations["rows"],
            "declared_relationships": relationships_info["rows"],
        }
    timings["vacuum_facts"] = round(time.perf_counter() - t0, 2)
    log(f"  {'vacuum facts':<14} {timings['vacuum_facts']:6.2f} s")
    return {
        "counts": counts,
        "timings_s": timings,
        "generation_s": round(time.perf_counter() - started, 2),
        "affiliations_status": affiliations["status"],
        "relationships_status": relationships_info["status"],
    }


def _fingerprint(spec: WorldSpec) -> dict[str, Any]:
    source = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]
    return {
        "generator_version": GENERATOR_VERSION,
        "generator_source": source,
        "spec": asdict(spec),
        "migrations": [
            [version, hashlib.sha256(path.read_bytes()).hexdigest()[:16]] for version, _, path in migration_files()
        ],
        "date": datetime.now(UTC).date().isoformat(),
    }


def ensure_world(spec: WorldSpec, *, data_root: Path = DATA_ROOT, regenerate: bool = False, log=print) -> World:
    """Start the bench database for `spec`, generating the world unless an identical one is there.

    A world is reused when the spec, the generator and the migration files are unchanged and
    it was generated today (licence expiry is relative to the day); otherwise the cluster
    is deleted and made again.
    """
    data_dir = data_root / spec.name
    meta_path = data_dir / "world.json"
    fingerprint = _fingerprint(spec)
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else None
    if regenerate or meta is None or meta.get("fingerprint") != fingerprint:
        if data_dir.exists():
            log(f"removing old bench database {data_dir}")
            shutil.rmtree(data_dir)
        meta = None
    data_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    db = start_embedded(data_dir, cleanup_mode="stop")
    apply_migrations(db.owner_conninfo)
    startup_s = round(time.perf_counter() - t0, 2)
    if meta is None:
        log(f"generating world {spec.name} into {data_dir}")
        info = generate(db.owner_conninfo, spec, log=log)
        meta = {"fingerprint": fingerprint, **info}
        meta_path.write_text(json.dumps(meta, indent=2))
        reused = False
    else:
        log(f"reusing world {spec.name} generated earlier today ({meta['generation_s']} s to generate)")
        reused = True
    info = {k: v for k, v in meta.items() if k != "fingerprint"}
    info.update(reused=reused, startup_s=startup_s, data_dir=str(data_dir))
    return World(db=db, spec=spec, info=info)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK.consultants:,} consultants")
    parser.add_argument("--consultants", type=int, help="world size (default 50,000)")
    parser.add_argument("--seekers", type=int)
    parser.add_argument("--regenerate", action="store_true", help="make the world again even if unchanged")
    args = parser.parse_args(argv)
    base = QUICK if args.quick else FULL
    seekers = base.seekers if not args.consultants else max(50, args.consultants // 50)
    spec = WorldSpec(consultants=args.consultants or base.consultants, seekers=args.seekers or seekers)
    world = ensure_world(spec, regenerate=args.regenerate)
    print(json.dumps(world.info, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
