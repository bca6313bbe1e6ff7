"""Migrations that have landed are history, and `supabase db push` applies only what sorts after them.

`supabase/landed_migrations.sha256` (sha256sum's format: `cd supabase/migrations && sha256sum -c
../landed_migrations.sha256`) lists every migration that has landed on main, with the digest of the text a
deployed project ran. A session adds its new migrations to it in the commit that lands them. Two mistakes
then fail here instead of at a user's `supabase db push`:

- editing (or deleting) a landed migration: a project that applied it never runs the new text, so the
  local twin and production would differ silently;
- a new migration whose version sorts before the last landed one (written on a branch while a later one
  landed): the CLI refuses to insert it before the project's last applied version without --include-all.
"""

import hashlib
import sys
from pathlib import Path

MIGRATIONS = Path(__file__).resolve().parent.parent / "supabase" / "migrations"
LEDGER = MIGRATIONS.parent / "landed_migrations.sha256"


def landed() -> dict[str, str]:
    """{file name: sha256} in the ledger's order."""
    entries = {}
    for line in LEDGER.read_text().splitlines():
        digest, name = line.split(maxsplit=1)
        entries[name.lstrip("*")] = digest
    return entries


def test_the_ledger_is_in_version_order_and_names_real_files():
    names = list(landed())
    assert names == sorted(names), "landed migrations are listed in the order supabase db push applies them"
    missing = [name for name in names if not (MIGRATIONS / name).exists()]
    assert not missing, f"landed migrations are never deleted (a deployed project keeps them): {missing}"


def test_no_landed_migration_is_edited():
    edited = [
        name
        for name, digest in landed().items()
        if (MIGRATIONS / name).exists() and hashlib.sha256((MIGRATIONS / name).read_bytes()).hexdigest() != digest
    ]
    assert not edited, (
        "these landed migrations were edited; a deployed project never runs the new text. "
        f"Put the change in a new migration instead: {edited}"
    )


def test_every_new_migration_sorts_after_the_last_landed_one():
    ledger = landed()
    last = max(ledger)
    early = sorted(path.name for path in MIGRATIONS.glob("*.sql") if path.name not in ledger and path.name <= last)
    assert not early, (
        f"supabase db push refuses a migration that sorts before the last one a project applied "
        f"({last}); rename these to a later version: {early}"
    )


def test_the_checks_catch_what_they_are_for(tmp_path, monkeypatch):
    # The same checks over a copy: an edited landed file and a late-named new one are both reported.
    copy = tmp_path / "migrations"
    copy.mkdir()
    ledger = landed()
    first, last = min(ledger), max(ledger)
    for name in (first, last):
        (copy / name).write_bytes((MIGRATIONS / name).read_bytes())
    (tmp_path / "landed_migrations.sha256").write_text(f"{ledger[first]}  {first}\n{ledger[last]}  {last}\n")
    monkeypatch.setattr(sys.modules[__name__], "MIGRATIONS", copy)
    monkeypatch.setattr(sys.modules[__name__], "LEDGER", tmp_path / "landed_migrations.sha256")
    test_no_landed_migration_is_edited()
    test_every_new_migration_sorts_after_the_last_landed_one()
    (copy / first).write_text("-- edited after it landed\n")
    (copy / (first.replace(".sql", "_late.sql"))).write_text("select 1;\n")
    for check in (test_no_landed_migration_is_edited, test_every_new_migration_sorts_after_the_last_landed_one):
        try:
            check()
        except AssertionError:
            continue
        raise AssertionError(f"{check.__name__} let the mistake through")
