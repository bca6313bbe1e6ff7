"""Property-based tests: every public RPC function, discovered from pg_catalog with its argument
names and types, is fed malformed, oversized, wrong-typed and hostile values through the
LocalBackend, as a signed-in member and as anon.

Properties, for every call:
  * the answer is a JSON result or a postgrest.APIError with a known code (a 5-character SQLSTATE
    or PGRST...), never another exception, never DatabaseUnavailable (a dropped connection), and
    never a runaway statement (the fuzzing backend stops statements after a few seconds);
  * a refused call (any APIError) leaves every table in public and private exactly as it was
    (row counts and a hash of each table's contents, read as the superuser);
  * anon is refused everything (42501; malformed input may be rejected first, with a class-22 code).
Calls that succeed may change tables (save_my_profile, add_my_affiliation, ...): only refused calls
must leave the snapshot unchanged. Runs are deterministic: a fixed seed per function, no example
database.
"""

from __future__ import annotations

import json
import re
import uuid
import zlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from portal.db import SERVICE, APIError, Claims, DatabaseUnavailable
from portal.db.local import LocalBackend

#: A statement still running after this is reported as a runaway (a denial of service).
STATEMENT_TIMEOUT_MS = 3000
EXAMPLES_AS_MEMBER = 15
EXAMPLES_AS_ANON = 3

KNOWN_CODE = re.compile(r"^(PGRST\d{3}|[0-9A-Z]{5})$")
#: SQLSTATE classes no input should ever produce.
FORBIDDEN_CLASSES = {
    "08": "connection exception",
    "25": "invalid transaction state (a STABLE function that writes?)",
    "53": "insufficient resources",
    "57": "operator intervention (57014: the statement ran past the timeout)",
    "58": "system error",
    "F0": "configuration file error",
    "XX": "internal error",
    # Arguments arrive typed (json_to_record), so a 42xxx other than 42501 comes from the body itself.
    "42": "syntax error or access rule violation inside the function body",
}

# --- hostile values ------------------------------------------------------------------------------

HOSTILE_TEXT = [
    "'; drop table public.profiles; --",
    "' or '1'='1",
    '"; select pg_sleep(30); --',
    "$$; select 1; $$",
    "<script>alert(document.cookie)</script>",
    "<img src=x onerror=alert(1)>",
    "\x00",
    "a\x00b",
    "\x01\x02\x1b[2J\x7f",
    "\r\n\t",
    "\u202egnp.exe",
    "\ud800",
    "%",
    "_%_%_%_%_%_%_%_%_%_%_%_%_%_%_%_%_%_%_%_%_%_%_%_%_%_%_%_%_%_%_%_%_%",
    "\\",
    "(a+)+$",
    "x" * 100_000,
    "é" * 50_000,
    "\U0001f600" * 1000,
    "",
    " ",
    "null",
    "NaN",
    "../../etc/passwd",
    "{{7*7}}${7*7}",
]
HOSTILE_DATES = [
    "0001-01-01",
    "9999-12-31",
    "infinity",
    "-infinity",
    "5874897-12-31",
    "4713-01-01 BC",
    "2026-02-30",
    "2026-13-01",
    "0000-00-00",
    "today",
    "epoch",
    "",
]
HOSTILE_TIMESTAMPS = [
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59+14:00",
    "infinity",
    "-infinity",
    "294276-12-31T23:59:59Z",
    "2026-03-08 02:30:00 America/New_York",
    "2026-01-01T25:61:00Z",
    "now",
    "epoch",
    "",
]
HOSTILE_INTEGERS = [0, -1, 2**15, 2**31 - 1, 2**31, -(2**31) - 1, 2**63, -(2**63) - 1, 10**100]
HOSTILE_UUIDS = [
    "not-a-uuid",
    "00000000-0000-0000-0000-000000000000",
    "ffffffff-ffff-ffff-ffff-ffffffffffff",
    "00000000-0000-0000-0000-00000000000g",
    "'; drop table public.profiles; --",
    "",
]
HOSTILE_JSON: list[Any] = [
    None,
    "",
    "x" * 100_000,
    1e308,
    -(2**70),
    True,
    [],
    {},
    [[[[[[[[[[[]]]]]]]]]]],
    {"a": {"b": {"c": {"d": {"e": None}}}}},
    ["\x00"],
    {"\x00": "\x00"},
    {"'; drop table public.profiles; --": 1},
]

# What the functions read from their JSON arguments: plausible keys with hostile values reach deeper.
JSON_KEYS = {
    "p_profile": [
        "display_name",
        "pronouns",
        "languages",
        "offers_telehealth",
        "offers_in_person",
        "city",
        "fee_usd",
        "sliding_scale",
        "years_in_practice",
        "timezone",
        "bio",
        "is_consultant",
    ],
    "p_licenses": ["jurisdiction", "license_type", "license_number", "expires_on"],
    "p_competencies": [
        "modality",
        "level",
        "evidence_body",
        "evidence_credential",
        "evidence_year",
        "training_hours",
        "expires_on",
    ],
    "p_settings": [
        "session_minutes",
        "buffer_minutes",
        "min_notice_hours",
        "max_sessions_per_week",
        "late_cancel_hours",
        "capacity",
        "accepting_new_clients",
        "timezone",
    ],
    "p_weekly_hours": ["weekday", "starts_at", "ends_at"],
    "p_overrides": ["on_date", "starts_at", "ends_at"],
    "p_time_off": ["starts_on", "ends_on", "note"],
    "p_terms": [
        "initiated_by",
        "reason",
        "reason_notes",
        "discussed_on",
        "final_session_on",
        "sessions_remaining",
        "closing_sessions",
        "referrals",
        "follow_up_on",
        "aftercare_notes",
        "checklist",
        "safety_justification",
    ],
}
JSON_ARRAYS = {"p_licenses", "p_competencies", "p_weekly_hours", "p_overrides", "p_time_off"}
PLAUSIBLE_TEXT = {
    "p_jurisdiction": ["NY", "ny", "ZZ"],
    "p_kind": ["practice", "friend", "license", "competency", "association"],
    "p_format": ["any", "telehealth", "in_person"],
    "p_outcome": ["completed", "no_show"],
    "p_item": ["summary_shared", "referrals_given"],
    "p_severity": ["potential", "blocking"],
    "p_context": ["search", "on_demand"],
    "tz": ["Europe/Paris", "Mars/Olympus_Mons"],
    "p_email_domain": ["clinic.example"],
    "p_counterpart_email": ["someone@clinic.example"],
}


@dataclass(frozen=True)
class Function:
    name: str
    args: tuple[tuple[str, str], ...]  # (name, type) of the input arguments, in order
    required: int  # how many leading arguments have no default


@dataclass
class Cast:
    member: str
    consultant: str


def discover_functions(conn: psycopg.Connection) -> list[Function]:
    rows = conn.execute("""
        select p.proname, coalesce(p.proargnames, '{}'), coalesce(p.proargmodes::text[], '{}'),
               array(select pg_catalog.format_type(t, null) from unnest(p.proargtypes) t), p.pronargdefaults
        from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
        where n.nspname = 'public' order by p.proname""").fetchall()
    found = []
    for name, arg_names, modes, in_types, n_defaults in rows:
        in_names = [a for a, m in zip(arg_names, modes, strict=False) if m in ("i", "b", "v")] if modes else arg_names
        found.append(Function(name, tuple(zip(in_names, in_types, strict=True)), len(in_names) - n_defaults))
    return found


# --- strategies ---------------------------------------------------------------------------------


def hostile_text() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(HOSTILE_TEXT), st.text(max_size=30))


def any_json() -> st.SearchStrategy[Any]:
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**70), 2**70),
        st.floats(allow_nan=True, allow_infinity=True),
        hostile_text(),
    )
    return st.one_of(
        st.recursive(
            scalars,
            lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
            max_leaves=10,
        ),
        st.sampled_from(HOSTILE_JSON),
        st.integers(50, 300).map(lambda depth: json.loads("[" * depth + "]" * depth)),
    )


def json_value() -> st.SearchStrategy[Any]:
    """A value for one key inside a JSON argument: plausible-looking or hostile."""
    return st.one_of(
        st.sampled_from(
            HOSTILE_DATES + HOSTILE_INTEGERS + [True, False, None, "cbt", "NY", "en", ["en"], "09:00", "25:00"]
        ),
        any_json(),
    )


def plausible_json(name: str) -> st.SearchStrategy[Any]:
    keys = JSON_KEYS.get(name)
    if not keys:
        return any_json()
    obj = st.fixed_dictionaries({}, optional={k: json_value() for k in keys})
    return st.lists(obj, max_size=3) if name in JSON_ARRAYS else obj


def value_for(name: str, type_: str, cast: Cast) -> st.SearchStrategy[Any]:
    """Plausible, hostile or wrong-typed values for an argument of this name and SQL type."""
    # Only the cast's own ids: a call that succeeds must not leave anything on a demo member's account.
    people = [cast.member, cast.consultant, str(uuid.UUID(int=0))]
    uuids = st.one_of(st.sampled_from(people), st.uuids().map(str), st.sampled_from(HOSTILE_UUIDS))
    texts = st.one_of(st.sampled_from(PLAUSIBLE_TEXT.get(name, ["Hello"])), hostile_text())
    by_type: dict[str, st.SearchStrategy[Any]] = {
        "text": texts,
        "uuid": uuids,
        "integer": st.one_of(st.integers(-3, 5), st.integers(-(2**70), 2**70), st.sampled_from(HOSTILE_INTEGERS)),
        "bigint": st.one_of(st.integers(-3, 5), st.integers(-(2**70), 2**70), st.sampled_from(HOSTILE_INTEGERS)),
        "boolean": st.one_of(st.booleans(), st.sampled_from(["t", "yes", 1, "maybe"])),
        "date": st.one_of(st.sampled_from(HOSTILE_DATES), st.dates().map(date.isoformat)),
        "timestamp with time zone": st.one_of(
            st.sampled_from(HOSTILE_TIMESTAMPS), st.datetimes(timezones=st.just(UTC)).map(datetime.isoformat)
        ),
        "jsonb": plausible_json(name),
        "json": plausible_json(name),
        "text[]": st.one_of(
            st.lists(texts, max_size=4),
            st.just(["cbt"] * 5000),
            st.just([None]),
            st.integers(1, 12).map(lambda depth: json.loads("[" * depth + '"x"' + "]" * depth)),
        ),
        "uuid[]": st.one_of(
            st.lists(uuids, max_size=4),
            st.just([cast.consultant] * 5000),
            st.integers(1, 12).map(lambda depth: json.loads("[" * depth + "]" * depth)),
        ),
    }
    assert type_ in by_type, f"no strategy for arguments of type {type_}: add one"
    wrong_type = any_json()
    return st.one_of(by_type[type_], by_type[type_], wrong_type)


def params_for(fn: Function, cast: Cast) -> st.SearchStrategy[dict[str, Any]]:
    required = {n: value_for(n, t, cast) for n, t in fn.args[: fn.required]}
    optional = {n: value_for(n, t, cast) for n, t in fn.args[fn.required :]}
    base = st.fixed_dictionaries(required, optional=optional)
    # Now and then a parameter the function does not have, or a required one missing. (Hypothesis favours the
    # ends of a range, so both ends mean "as it is" and the twists sit inside it.)
    bogus = st.dictionaries(
        st.sampled_from(["p_bogus", "'; drop table public.profiles; --", ""]), any_json(), min_size=1, max_size=1
    )
    required_names = [n for n, _ in fn.args[: fn.required]] or [None]
    twist = st.integers(0, 19).flatmap(
        lambda i: (
            bogus.map(lambda b: (b, None))
            if i == 7
            else st.sampled_from(required_names).map(lambda n: ({}, n))
            if i == 13
            else st.just(({}, None))
        )
    )
    return st.tuples(base, twist).map(lambda t: {k: v for k, v in {**t[0], **t[1][0]}.items() if k != t[1][1]})


# --- the harness --------------------------------------------------------------------------------


def short(value: Any, limit: int = 160) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} chars)"


class Harness:
    """Calls functions through the LocalBackend and checks every answer; collects what went wrong."""

    def __init__(self, backend: LocalBackend, superuser: psycopg.Connection) -> None:
        self.backend = backend
        self.superuser = superuser
        tables = [
            r[0]
            for r in superuser.execute("""
            select format('%I.%I', n.nspname, c.relname) from pg_catalog.pg_class c
            join pg_catalog.pg_namespace n on n.oid = c.relnamespace
            where n.nspname in ('public', 'private') and c.relkind in ('r', 'p') order by 1""")
        ]
        self._snapshot_sql = " union all ".join(
            f"select '{t}', count(*), md5(coalesce(string_agg(x::text, E'\\n' order by x::text), '')) from {t} x"
            for t in tables
        )
        self.baseline = self.snapshot()
        self.problems: dict[str, list[str]] = {}
        self.calls = 0

    def snapshot(self) -> dict[str, tuple[int, str]]:
        return {name: (count, digest) for name, count, digest in self.superuser.execute(self._snapshot_sql)}

    def problem(self, fn: str, params: dict[str, Any], what: str) -> None:
        seen = self.problems.setdefault(fn, [])
        if len(seen) < 3 and not any(p.startswith(what) for p in seen):
            seen.append(f"{what}\n      params: {short(params, 400)}")

    def call(self, fn: str, params: dict[str, Any], claims: Claims | None, *, anon_refused: bool = False) -> None:
        self.calls += 1
        try:
            result = self.backend.rpc(fn, params, as_user=claims)
        except APIError as exc:
            code = exc.code or ""
            after = self.snapshot()
            if not KNOWN_CODE.match(code):
                self.problem(fn, params, f"APIError with an unknown code {code!r}: {short(exc.message)}")
            elif code[:2] in FORBIDDEN_CLASSES and code != "42501":
                self.problem(fn, params, f"{code} ({FORBIDDEN_CLASSES[code[:2]]}): {short(exc.message)}")
            elif anon_refused and code not in ("42501", "PGRST202") and not code.startswith("22"):
                # Malformed input (class 22) may be rejected before the EXECUTE check, as PostgREST
                # rejects a malformed body; anything else must be the refusal itself.
                self.problem(fn, params, f"anon was answered {code} instead of 42501: {short(exc.message)}")
            if after != self.baseline:
                changed = sorted(t for t in after if after[t] != self.baseline.get(t))
                self.problem(fn, params, f"a refused call ({code}) changed tables {changed}")
            self.baseline = after
        except DatabaseUnavailable as exc:
            self.problem(fn, params, f"DatabaseUnavailable (a dropped connection?): {exc!r}")
            self.baseline = self.snapshot()
        except Exception as exc:  # noqa: BLE001 - any other exception type is the failure being looked for
            self.problem(fn, params, f"{type(exc).__name__}: {short(str(exc))}")
            self.baseline = self.snapshot()
        else:
            if not isinstance(result, dict | list | str | int | float | bool | type(None)):
                self.problem(fn, params, f"not a JSON result: {type(result).__name__}")
            if anon_refused:
                self.problem(fn, params, "anon was answered with a result")
            self.baseline = self.snapshot()

    def report(self) -> str:
        lines = [f"{len(self.problems)} function(s) misbehaved in {self.calls} calls:"]
        for fn, found in sorted(self.problems.items()):
            lines += [f"  {fn}:"] + [f"    - {p}" for p in found]
        return "\n".join(lines)


@pytest.fixture(scope="module")
def superuser(embedded_db):
    with psycopg.connect(embedded_db.conninfo("postgres"), autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="module")
def fuzz_backend(embedded_db):
    """The LocalBackend as the app uses it, but stopping any statement that runs away."""
    b = LocalBackend(f"{embedded_db.api_conninfo} options='-c statement_timeout={STATEMENT_TIMEOUT_MS}'", max_size=2)
    yield b
    b.close()


@pytest.fixture(scope="module")
def cast(fuzz_backend, superuser):
    """A member who does the calling and a consultant to aim at; removed afterwards."""
    made = []
    for who in ("member", "consultant"):
        username = f"fuzz_{who}_{uuid.uuid4().hex[:8]}"
        made.append(
            fuzz_backend.rpc(
                "auth_register",
                {
                    "p_username": username,
                    "p_email": f"{username}@fuzz.example",
                    "p_display_name": f"Fuzz {who}",
                    "p_password_hash": "$2b$12$" + "f" * 53,
                },
                as_user=SERVICE,
            )
        )
    superuser.execute("update public.profiles set is_consultant = true where id = %s", (made[1],))
    yield Cast(member=made[0], consultant=made[1])
    superuser.execute("delete from public.appointments where requested_by = any (%s::uuid[])", (made,))
    superuser.execute("delete from public.profiles where id = any (%s::uuid[])", (made,))


@pytest.fixture(scope="module")
def functions(superuser):
    found = discover_functions(superuser)
    assert len(found) > 40, "discovery found too few functions"
    return found


def fuzz(harness: Harness, fn: Function, cast: Cast, claims: Claims | None, examples: int) -> None:
    @seed(zlib.crc32(fn.name.encode()))
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=(Phase.explicit, Phase.generate),
        suppress_health_check=list(HealthCheck),
    )
    @given(params=params_for(fn, cast))
    def run(params: dict[str, Any]) -> None:
        harness.call(fn.name, params, claims, anon_refused=claims is None)

    run()


# --- the properties -----------------------------------------------------------------------------


def test_every_function_answers_hostile_input_as_a_member(fuzz_backend, superuser, cast, functions):
    harness = Harness(fuzz_backend, superuser)
    for fn in functions:
        fuzz(harness, fn, cast, Claims.user(cast.member), EXAMPLES_AS_MEMBER)
    assert not harness.problems, harness.report()


def test_every_function_refuses_anon_whatever_it_is_sent(fuzz_backend, superuser, cast, functions):
    harness = Harness(fuzz_backend, superuser)
    for fn in functions:
        fuzz(harness, fn, cast, None, EXAMPLES_AS_ANON)
    assert not harness.problems, harness.report()


SWEEP = {
    "text": [
        "'; drop table public.profiles; --",
        "<script>alert(1)</script>",
        "a\x00b",
        "\ud800",
        "x" * 100_000,
        "\x01\x1b[2J",
        None,
        12,
        {"a": 1},
    ],
    "uuid": ["not-a-uuid", "00000000-0000-0000-0000-000000000000", "", None, 1, ["x"]],
    "integer": [2**31, -(2**31) - 1, 10**100, -1, "1; drop", 1.5, None, True],
    "bigint": [2**63, -(2**63) - 1, 10**100, -1, "1; drop", 1.5, None, True],
    "boolean": ["maybe", 2, None, []],
    "date": ["infinity", "-infinity", "0001-01-01", "9999-12-31", "5874897-12-31", "2026-02-30", "", None, 20260101],
    "timestamp with time zone": [
        "infinity",
        "-infinity",
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
        "294276-12-31T23:59:59Z",
        "garbage",
        None,
    ],
    "jsonb": [None, "x" * 100_000, 1e308, [], {}, json.loads("[" * 300 + "]" * 300), {"\x00": "\x00"}, "NaN"],
    "text[]": [
        ["x" * 100_000],
        ["a\x00b"],
        ["cbt"] * 5000,
        [None],
        "not an array",
        [["nested"]],
        json.loads("[" * 10 + '"deep"' + "]" * 10),
    ],
    "uuid[]": [["not-a-uuid"], [None], "not an array", [str(uuid.UUID(int=0))] * 5000, json.loads("[" * 10 + "]" * 10)],
}


def plausible(name: str, type_: str, cast: Cast) -> Any:
    week = (datetime.now(UTC) + timedelta(days=7)).replace(minute=0, second=0, microsecond=0)
    if name in PLAUSIBLE_TEXT:
        return PLAUSIBLE_TEXT[name][0]
    return {
        "text": "Hello there",
        "uuid": cast.consultant,
        "integer": 1,
        "bigint": 1,
        "boolean": True,
        "date": datetime.now(UTC).date().isoformat(),
        "timestamp with time zone": week.isoformat(),
        "jsonb": [] if name in JSON_ARRAYS else {},
        "json": {},
        "text[]": [],
        "uuid[]": [cast.consultant],
    }[type_]


def test_each_argument_swept_with_each_hostile_value(fuzz_backend, superuser, cast, functions):
    """Deterministic complement to the random search: every argument of every function gets every hostile
    value for its type (the others plausible), so the worst values are always tried."""
    harness = Harness(fuzz_backend, superuser)
    claims = Claims.user(cast.member)
    for fn in functions:
        base = {n: plausible(n, t, cast) for n, t in fn.args}
        for name, type_ in fn.args:
            for value in SWEEP[type_]:
                harness.call(fn.name, {**base, name: value}, claims)
    assert not harness.problems, harness.report()
