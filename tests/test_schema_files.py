"""supabase/schemas/ states the database the migrations build, object for object.

On each server (the embedded 18 and the CLI-deployed 15) the migrated database is compared, catalog
against catalog, with a fresh server of the same kind made as a new project is (the platform file) and
then given the schema files in config.toml's order. Roles belong to a server, hence a fresh one.
"""

from __future__ import annotations

import difflib
import importlib.util
import re
import shutil
import sys
import tempfile
import tomllib
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from portal.db.bootstrap import apply_migrations, start_embedded
from tests.conftest import EMBEDDED_18, REPO, SUPABASE_15, require_tool
from tests.supabase_like import find_pg15, find_supabase_cli, start_supabase_like_pg15, supabase_db_push

SCHEMAS_DIR = REPO / "supabase" / "schemas"
GENERATOR = REPO / "supabase" / "tools" / "write_schema_files.py"
# What a fresh project has (or the deploy tooling makes) rather than the portal's schema.
NOT_THE_APPS = "('pg_catalog', 'information_schema', 'pg_toast', 'auth', 'extensions', 'supabase_migrations')"
APP_NAMESPACES = f"select oid from pg_catalog.pg_namespace where nspname not in {NOT_THE_APPS} and nspname !~ '^pg_'"
SORTED_ACL = "array(select a::text from unnest({}) a order by 1)"
# No ACL at all means Postgres's default; a migration that revokes and grants back leaves it spelled out.
NAMESPACE_ACL = SORTED_ACL.format("coalesce(nspacl, acldefault('n', nspowner))")
FUNCTION_ACL = SORTED_ACL.format("coalesce(p.proacl, acldefault('f', p.proowner))")
RELATION_ACL = SORTED_ACL.format(
    """coalesce(c.relacl, acldefault((case c.relkind when 'S' then 's' else 'r' end)::"char", c.relowner))"""
)

# Each category: (object, its definition), one row per object the app's schemas hold.
CATALOG = {
    "schema": f"""
        select nspname, format('owner %s, acl %s', nspowner::regrole, {NAMESPACE_ACL})
        from pg_catalog.pg_namespace where nspname !~ '^pg_' and nspname not in ('information_schema',
        'supabase_migrations')""",
    "extension": """
        select extname, format('schema %s, version %s, owner %s', extnamespace::regnamespace, extversion,
                               extowner::regrole) from pg_catalog.pg_extension""",
    "role": """
        select rolname, format('login %s, inherit %s, bypassrls %s, createrole %s, createdb %s, superuser %s, %s',
                               rolcanlogin, rolinherit, rolbypassrls, rolcreaterole, rolcreatedb, rolsuper,
                               coalesce(rolconfig, '{}'))
        from pg_catalog.pg_roles where rolname !~ '^pg_'""",
    "role membership": """
        select format('%s in %s', member::regrole, roleid::regrole),
               format('admin %s, granted by %s', admin_option, grantor::regrole)
        from pg_catalog.pg_auth_members where roleid::regrole::text !~ '^pg_'""",
    "default privilege": f"""
        select format('for %s in %s on %s', defaclrole::regrole, coalesce(defaclnamespace::regnamespace::text, '*'),
                      defaclobjtype), {SORTED_ACL.format("defaclacl")}::text
        from pg_catalog.pg_default_acl""",
    "function": f"""
        select p.oid::regprocedure::text,
               format(E'%s\\n-- owner %s, security definer %s, config %s, acl %s', pg_get_functiondef(p.oid),
                      p.proowner::regrole, p.prosecdef, p.proconfig, {FUNCTION_ACL})
        from pg_catalog.pg_proc p where p.pronamespace in ({APP_NAMESPACES})""",
    "relation": f"""
        select c.oid::regclass::text,
               format('kind %s, owner %s, rls %s, forced %s, options %s, acl %s', c.relkind, c.relowner::regrole,
                      c.relrowsecurity, c.relforcerowsecurity, c.reloptions, {RELATION_ACL})
        from pg_catalog.pg_class c where c.relnamespace in ({APP_NAMESPACES}) and c.relkind <> 'i'""",
    "column": f"""
        select format('%s.%s', c.oid::regclass, quote_ident(a.attname)),
               format('%s, not null %s, default %s, generated %s, identity %s, collation %s, acl %s',
                      format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(d.adbin, d.adrelid),
                      nullif(a.attgenerated, ''), nullif(a.attidentity, ''), a.attcollation,
                      {SORTED_ACL.format("a.attacl")})
        from pg_catalog.pg_attribute a join pg_catalog.pg_class c on c.oid = a.attrelid
        left join pg_catalog.pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
        where c.relnamespace in ({APP_NAMESPACES}) and a.attnum > 0 and not a.attisdropped""",
    "constraint": f"""
        select format('%s on %s', conname, coalesce(nullif(conrelid, 0)::regclass::text, contypid::regtype::text)),
               pg_get_constraintdef(oid)
        from pg_catalog.pg_constraint where connamespace in ({APP_NAMESPACES})""",
    "index": f"""
        select indexrelid::regclass::text, pg_get_indexdef(indexrelid) from pg_catalog.pg_index i
        join pg_catalog.pg_class c on c.oid = i.indexrelid where c.relnamespace in ({APP_NAMESPACES})""",
    "policy": f"""
        select format('%s on %I.%I', policyname, schemaname, tablename),
               format(E'%s for %s to %s\\nusing %s\\nwith check %s', permissive, cmd, roles, qual, with_check)
        from pg_catalog.pg_policies where schemaname::regnamespace in ({APP_NAMESPACES})""",
    "trigger": f"""
        select format('%s on %s', t.tgname, t.tgrelid::regclass), format('%s (enabled %s)',
               pg_get_triggerdef(t.oid), t.tgenabled)
        from pg_catalog.pg_trigger t join pg_catalog.pg_class c on c.oid = t.tgrelid
        where not t.tgisinternal and c.relnamespace in ({APP_NAMESPACES})""",
    "view": f"""
        select c.oid::regclass::text, pg_get_viewdef(c.oid) from pg_catalog.pg_class c
        where c.relkind in ('v', 'm') and c.relnamespace in ({APP_NAMESPACES})""",
    "sequence": f"""
        select format('%I.%I', schemaname, sequencename),
               format('%s start %s increment %s min %s max %s cycle %s cache %s', data_type, start_value,
                      increment_by, min_value, max_value, cycle, cache_size)
        from pg_catalog.pg_sequences where schemaname::regnamespace in ({APP_NAMESPACES})""",
    "type": f"""
        select t.oid::regtype::text, format('type %s, %s, labels %s, constraints %s', t.typtype,
               format_type(t.typbasetype, t.typtypmod),
               array(select e.enumlabel from pg_catalog.pg_enum e where e.enumtypid = t.oid order by e.enumsortorder),
               array(select pg_get_constraintdef(k.oid) from pg_catalog.pg_constraint k where k.contypid = t.oid
                     order by 1))
        from pg_catalog.pg_type t where t.typnamespace in ({APP_NAMESPACES}) and t.typtype in ('e', 'd', 'r', 'm')
           or (t.typtype = 'c' and t.typnamespace in ({APP_NAMESPACES})
               and (select c.relkind from pg_catalog.pg_class c where c.oid = t.typrelid) = 'c')""",
    # Postgres's own objects sit below FirstNormalObjectId; everything above was made by the platform or the portal.
    "comment": """
        select pg_describe_object(classoid, objoid, objsubid), description from pg_catalog.pg_description
        where objoid >= 16384 and pg_describe_object(classoid, objoid, objsubid) is not null""",
}


def catalog(conn: psycopg.Connection) -> dict[str, dict[str, str]]:
    conn.execute("set search_path = ''")  # every name schema-qualified
    return {category: dict(conn.execute(query).fetchall()) for category, query in CATALOG.items()}


def drift(migrated: dict[str, dict[str, str]], declared: dict[str, dict[str, str]]) -> list[str]:
    """Every object that differs, named, with both versions as a diff (migrations first)."""
    found = []
    for category in CATALOG:
        before, after = migrated[category], declared[category]
        for name in sorted(set(before) | set(after)):
            if before.get(name) == after.get(name):
                continue
            if name not in after:
                found.append(
                    f"{category} {name}: made by the migrations, missing from the schema files:\n{before[name]}"
                )
            elif name not in before:
                found.append(f"{category} {name}: in the schema files, not made by the migrations:\n{after[name]}")
            else:
                lines = difflib.unified_diff(
                    before[name].splitlines(), after[name].splitlines(), "migrations", "schema files", lineterm=""
                )
                found.append(f"{category} {name} differs:\n" + "\n".join(lines))
    return found


def schema_paths() -> list[Path]:
    config = tomllib.loads((REPO / "supabase" / "config.toml").read_text())
    return [(REPO / "supabase" / p).resolve() for p in config["db"]["migrations"]["schema_paths"]]


def apply_schema_files(conninfo: str) -> None:
    """As the CLI does: each file in config.toml's order, as the project's owner."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        for path in schema_paths():
            with conn.transaction():
                conn.execute(path.read_text())


@contextmanager
def embedded_server(build):
    """A fresh embedded 18 made as the app makes it (the platform file), then built by `build`."""
    workdir = Path(tempfile.mkdtemp(prefix="schema-files-"))
    server = start_embedded(workdir, cleanup_mode=None)
    try:
        build(server)
        yield server
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@contextmanager
def supabase_like_15(build):
    """A fresh Supabase-like Postgres 15 (a new project), then built by `build`."""
    server = start_supabase_like_pg15()
    try:
        build(server)
        yield server
    finally:
        server.stop()


def migrate(server) -> None:
    apply_migrations(server.owner_conninfo)


def push(server) -> None:
    deployed = supabase_db_push(find_supabase_cli(), server.deploy_url)
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr


def declare(server) -> None:
    apply_schema_files(server.owner_conninfo)


@pytest.fixture(scope="module", params=[EMBEDDED_18, SUPABASE_15])
def twins(request):
    """(a database built by the migrations, one built by the schema files), each on a fresh server of one kind:
    roles belong to a server, so each side makes its own. Fresh rather than the session's servers, which
    also carry the demo world: this module then runs in well under a minute on its own."""
    if request.param == EMBEDDED_18:
        server, migrations = embedded_server, migrate
    else:
        require_tool(find_pg15() is not None, "Postgres 15 (Debian's postgresql-15)")
        require_tool(find_supabase_cli() is not None, "the Supabase CLI (.ci/install_supabase_cli.sh)")
        server, migrations = supabase_like_15, push
    with server(migrations) as migrated, server(declare) as declared:
        yield migrated, declared


def test_the_schema_files_build_the_database_the_migrations_build(twins):
    migrated, declared = twins
    with psycopg.connect(migrated.owner_conninfo) as a, psycopg.connect(declared.owner_conninfo) as b:
        differences = drift(catalog(a), catalog(b))
    assert not differences, f"{len(differences)} objects drifted:\n\n" + "\n\n".join(differences)


def test_a_planted_drift_is_named_with_both_versions(twins):
    """One extra `create or replace function` on the schema side (in a transaction rolled back: a scratch copy)."""
    migrated, declared = twins
    with psycopg.connect(migrated.owner_conninfo) as a, psycopg.connect(declared.owner_conninfo) as b:
        expected = catalog(a)
        definition = b.execute("select pg_get_functiondef('public.is_iana_timezone(text)'::regprocedure)").fetchone()[0]
        b.execute(definition.replace("$function$\n", "$function$\n-- planted drift\n", 1))
        differences = drift(expected, catalog(b))
        b.rollback()
    assert len(differences) == 1, differences
    assert differences[0].startswith("function public.is_iana_timezone(text) differs:")
    assert "+-- planted drift" in differences[0]
    assert "--- migrations" in differences[0] and "+++ schema files" in differences[0]


def test_config_lists_every_schema_file_in_order():
    files = schema_paths()
    assert files == sorted(SCHEMAS_DIR.glob("*.sql")), "config.toml's [db.migrations] schema_paths must name each file"


# One key per statement that makes an object; a function is told apart by name and number of inputs.
_STATEMENTS = {
    "function": re.compile(r"^create\s+(?:or\s+replace\s+)?function\s+([\w.]+)\s*\(([^)]*)\)", re.I | re.M),
    "table": re.compile(r"^create\s+(?:unlogged\s+)?table\s+(?:if\s+not\s+exists\s+)?([\w.]+)", re.I | re.M),
    "view": re.compile(r"^create\s+(?:or\s+replace\s+)?(?:materialized\s+)?view\s+([\w.]+)", re.I | re.M),
    "policy": re.compile(r'^create\s+policy\s+("[^"]+"|\w+)\s+on\s+([\w.]+)', re.I | re.M),
    "index": re.compile(
        r"^create\s+(?:unique\s+)?index\s+(?:if\s+not\s+exists\s+)?(\w+)\s+on\s+(?:only\s+)?([\w.]+)", re.I | re.M
    ),
    "trigger": re.compile(
        r"^create\s+(?:or\s+replace\s+)?(?:constraint\s+)?trigger\s+(\w+)\s.*?\son\s+([\w.]+)", re.I | re.M | re.S
    ),
    "constraint": re.compile(r"^alter\s+table\s+(?:only\s+)?([\w.]+)\s+add\s+constraint\s+(\w+)", re.I | re.M),
    "type": re.compile(r"^create\s+type\s+([\w.]+)", re.I | re.M),
    "role": re.compile(r"create\s+role\s+(\w+)", re.I),
}


def statement_keys(text: str) -> list[tuple[str, ...]]:
    keys = []
    for kind, pattern in _STATEMENTS.items():
        for match in pattern.finditer(text):
            parts = [g.lower() for g in match.groups()]
            if kind == "function":
                inputs = [a for a in parts[1].split(",") if a.strip() and not a.strip().startswith("out ")]
                parts[1] = f"{len(inputs)} inputs"
            keys.append((kind, *parts))
    return keys


def test_no_object_is_stated_twice():
    stated: dict[tuple[str, ...], list[str]] = {}
    for path in sorted(SCHEMAS_DIR.glob("*.sql")):
        for key in statement_keys(path.read_text()):
            stated.setdefault(key, []).append(path.name)
    twice = {" ".join(key): files for key, files in stated.items() if len(files) > 1}
    assert not twice, f"stated more than once: {twice}"
    assert sum(1 for key in stated if key[0] == "function") > 100  # the patterns do find the statements


def test_the_check_for_twice_stated_objects_catches_one():
    text = (SCHEMAS_DIR / "10_profiles_and_sign_in.sql").read_text()
    header = _STATEMENTS["function"].search(text).group(0)
    key = statement_keys(header)[0]
    assert statement_keys(text).count(key) == 1
    assert statement_keys(text + "\n" + header.lower().replace("create", "create or replace", 1)).count(key) == 2


def test_the_generator_stops_at_an_object_no_rule_places():
    """A new object's file is chosen by a person: the generator names what it cannot place."""
    spec = importlib.util.spec_from_file_location("write_schema_files", GENERATOR)
    generator = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = generator  # its dataclasses look their module up there
    spec.loader.exec_module(generator)
    known = generator.Entry(0, "FUNCTION", "public", "book_appointment(p_other uuid, p_starts_at timestamp)", "")
    assert generator.domain_of(known) == "40_availability_and_booking"
    unknown = generator.Entry(0, "FUNCTION", "public", "brand_new_rule(p_x integer)", "")
    with pytest.raises(
        generator.UnknownObject, match=r"FUNCTION public\.brand_new_rule\(p_x integer\) matches no rule"
    ):
        generator.domain_of(unknown)
