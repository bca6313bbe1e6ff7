"""Local backend: call Postgres functions exactly as PostgREST would.

Per call: one transaction (READ ONLY for STABLE/IMMUTABLE functions) in one
round trip (pipelined), the caller's role and JWT claims set with
set_config(..., true), the function
called with named arguments decoded from one JSON object by Postgres
(json_to_record, as PostgREST does), the result built as JSON by Postgres,
and Postgres errors raised as postgrest.APIError with the same fields.
"""

from __future__ import annotations

import difflib
import json
import select
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool, PoolTimeout

from portal.db.claims import Claims
from portal.db.errors import APIError, DatabaseUnavailable, refusal_from

if TYPE_CHECKING:
    from portal.db.bootstrap import EmbeddedDatabase

# What PostgREST on Supabase puts on the search_path (db-schemas + db-extra-search-path).
SEARCH_PATH = "public, extensions"


@dataclass(frozen=True)
class FunctionInfo:
    name: str
    arg_names: tuple[str, ...]
    arg_types: tuple[str, ...]
    required: frozenset[str]
    returns_set: bool
    returns_composite: bool
    returns_void: bool
    read_only: bool


_FUNCTION_QUERY = """
select p.proname,
       p.provolatile,
       p.proretset,
       p.prorettype = 'pg_catalog.void'::pg_catalog.regtype as returns_void,
       rt.typtype = 'c' as returns_composite,
       coalesce(p.proargnames, '{}') as arg_names,
       coalesce(p.proargmodes::text[], '{}') as arg_modes,
       array(select pg_catalog.format_type(t, null) from unnest(p.proargtypes) t) as in_types,
       p.pronargdefaults
from pg_catalog.pg_proc p
join pg_catalog.pg_namespace n on n.oid = p.pronamespace
join pg_catalog.pg_type rt on rt.oid = p.prorettype
where n.nspname = 'public' and p.proname = %s
"""


# A call's settings, local to its transaction, as PostgREST makes them; STABLE and IMMUTABLE functions run read-only.
_SETTINGS = (
    "select set_config('role', %s, true),"
    " set_config('request.jwt.claims', %s, true),"
    " set_config('search_path', %s, true),"
    " set_config('request.method', 'POST', true),"
    " set_config('request.path', %s, true),"
    " set_config('transaction_read_only', %s, true)"
)


def _api_error(exc: psycopg.Error) -> APIError:
    """The error as PostgREST would answer it, raised as a Refusal (refusal_from)."""
    diag = exc.diag
    return refusal_from(
        APIError(
            {
                "code": diag.sqlstate or exc.sqlstate,
                "message": diag.message_primary or str(exc),
                "details": diag.message_detail,
                "hint": diag.message_hint,
            }
        )
    )


def _not_found(fn: str, params: dict[str, Any], hint: str | None) -> APIError:
    """PGRST202 worded exactly as PostgREST 12 words it."""
    names = sorted(params)
    listed = ", ".join(names)
    signature = f"({listed})" if names else " without parameters"
    searched = f"with parameter{'s' if len(names) > 1 else ''} {listed}" if names else "without parameters"
    return refusal_from(
        APIError(
            {
                "code": "PGRST202",
                "message": f"Could not find the function public.{fn}{signature} in the schema cache",
                "details": (
                    f"Searched for the function public.{fn} {searched} or with a single "
                    "unnamed json/jsonb parameter, but no matches were found in the schema cache."
                ),
                "hint": hint,
            }
        )
    )


_ALL_FUNCTIONS_QUERY = """
select p.proname,
       array(select a from unnest(coalesce(p.proargnames, '{}'), coalesce(p.proargmodes::text[], '{}'))
               as t(a, m) where coalesce(m, 'i') in ('i', 'b', 'v') and a <> '' order by a)
from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
where n.nspname = 'public'
"""


def _suggestion(conn: psycopg.Connection, fn: str) -> str | None:
    """PostgREST's 'Perhaps you meant ...': the same name with its real parameters, or a close name."""
    functions = {name: args for name, args in conn.execute(_ALL_FUNCTIONS_QUERY).fetchall()}
    if fn in functions:
        if not functions[fn]:
            return None  # PostgREST offers no hint when the named function takes no parameters
        target = fn
    else:
        # PostgREST's fuzzy matcher also hints at loosely similar names; only close ones are matched here.
        close = difflib.get_close_matches(fn, list(functions), n=1, cutoff=0.85)
        if not close:
            return None
        target = close[0]
    args = functions[target]
    return f"Perhaps you meant to call the function public.{target}" + (f"({', '.join(args)})" if args else "")


def _check_before_lending(conn: psycopg.Connection) -> None:
    """Raise if a pooled connection is unusable, without a round trip while it looks well: an idle connection has
    nothing to read, so one that is readable was closed by the server (a restart: EOF or a termination notice), or
    holds a notification; only then is it asked (ConnectionPool.check_connection)."""
    if conn.closed or conn.broken:
        raise psycopg.OperationalError("the pooled connection is closed")
    waiting = select.poll()  # poll, not select: a busy app server's descriptors pass select()'s 1024
    waiting.register(conn.fileno(), select.POLLIN)
    if waiting.poll(0):
        ConnectionPool.check_connection(conn)


class _ConnectionLost(Exception):
    """No usable connection before the call began; the call can be retried."""


class LocalBackend:
    """RPC over a psycopg pool connected as `authenticator`, like PostgREST."""

    name = "local"
    embedded: EmbeddedDatabase | None = None  # the server open_backend started, for tools and tests to stop/start

    def __init__(self, conninfo: str, *, min_size: int = 1, max_size: int = 8) -> None:
        self._conninfo = conninfo
        self._sizes = (min_size, max_size)
        self._functions: dict[str, FunctionInfo] = {}
        self._statements: dict[tuple[FunctionInfo, tuple[str, ...]], str] = {}
        self._lock = threading.Lock()
        self._unreachable = False  # set while the server is down: fail fast, probe directly
        self._pool = self._open_pool()

    def _open_pool(self) -> ConnectionPool:
        pool = ConnectionPool(
            self._conninfo,
            min_size=self._sizes[0],
            max_size=self._sizes[1],
            open=False,
            # How long a call waits for a connection before the user is told the database is
            # unreachable (the page keeps what they typed).
            timeout=5,
            # A pooled connection can die with the server; check before lending it (without a round trip).
            check=_check_before_lending,
            name="portal-local",
            # Autocommit: each call is its own (implicit) transaction, pipelined in one round trip.
            kwargs={"autocommit": True},
        )
        try:
            pool.open(wait=True, timeout=10)
        except PoolTimeout as exc:
            pool.close()
            raise DatabaseUnavailable() from exc
        return pool

    def _server_answers(self) -> bool:
        try:
            with psycopg.connect(self._conninfo, connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False

    def _recover(self) -> bool:
        """After an outage: if the server answers again, start a fresh pool (the old one may be
        backing off between reconnection attempts for many seconds) and say so."""
        if not self._server_answers():
            self._unreachable = True
            return False
        with self._lock:
            old, self._pool = self._pool, self._open_pool()
            self._unreachable = False
        old.close(timeout=0)
        return True

    # -- schema cache ------------------------------------------------------
    def _function(self, conn: psycopg.Connection, fn: str) -> FunctionInfo | None:
        info = self._functions.get(fn)
        if info is not None:
            return info
        rows = conn.execute(_FUNCTION_QUERY, (fn,)).fetchall()
        if len(rows) != 1:  # unknown, or overloaded (which this API never uses)
            return None
        (name, volatility, retset, returns_void, composite, names, modes, in_types, n_defaults) = rows[0]
        if modes:
            in_names = [n for n, m in zip(names, modes, strict=False) if m in ("i", "b", "v")]
        else:
            in_names = list(names)
        required = frozenset(in_names[: len(in_names) - (n_defaults or 0)])
        info = FunctionInfo(
            name=name,
            arg_names=tuple(in_names),
            arg_types=tuple(in_types),
            required=required,
            returns_set=retset,
            returns_composite=composite,
            returns_void=returns_void,
            read_only=volatility in ("s", "i"),
        )
        with self._lock:
            self._functions[fn] = info
        return info

    # -- the call ----------------------------------------------------------
    def _statement_for(self, conn: psycopg.Connection, info: FunctionInfo, given: tuple[str, ...]) -> str:
        """The call's statement, composed once per function and set of arguments (not on every call)."""
        key = (info, given)
        stmt = self._statements.get(key)
        if stmt is None:
            stmt = self._statement(info, list(given)).as_string(conn)
            with self._lock:
                self._statements[key] = stmt
        return stmt

    @staticmethod
    def _statement(info: FunctionInfo, given: list[str]) -> sql.Composed:
        fn = sql.Identifier("public", info.name)
        if given:
            types = dict(zip(info.arg_names, info.arg_types, strict=True))
            record = sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(types[n])) for n in given)
            args: sql.Composable = sql.SQL(", ").join(
                sql.SQL("{} := pgrst_args.{}").format(sql.Identifier(n), sql.Identifier(n)) for n in given
            )
            source: sql.Composable = sql.SQL("(select * from json_to_record(%s::json) as _({})) pgrst_args").format(
                record
            )
        else:
            args = sql.SQL("")
            source = sql.SQL("(select 1) pgrst_args")
        call = sql.SQL("{}({})").format(fn, args)
        if info.returns_set:
            return sql.SQL("select coalesce(json_agg(pgrst_call), '[]'::json) from {}, lateral {} pgrst_call").format(
                source, call
            )
        if info.returns_composite:
            return sql.SQL("select to_json(pgrst_call) from {}, lateral {} pgrst_call").format(source, call)
        return sql.SQL("select to_json({}) from {}").format(call, source)

    def rpc(self, fn: str, params: dict[str, Any] | None = None, *, as_user: Claims | None) -> Any:
        if self._unreachable and not self._recover():
            raise DatabaseUnavailable()
        try:
            return self._call(fn, params, as_user)
        except _ConnectionLost as lost:
            # The call never reached the function (no connection), so one retry is safe.
            if self._recover():
                try:
                    return self._call(fn, params, as_user)
                except _ConnectionLost as again:
                    raise DatabaseUnavailable() from again.__cause__
            raise DatabaseUnavailable() from lost.__cause__

    def _call(self, fn: str, params: dict[str, Any] | None, as_user: Claims | None) -> Any:
        params = dict(params or {})
        role = as_user.role if as_user else "anon"
        claims = as_user.as_jwt_payload() if as_user else {"role": "anon"}
        started = [False]  # whether the function itself was sent: only then is a retry unsafe
        try:
            with self._pool.connection() as conn:
                info = self._function(conn, fn)
                if info is None or not set(params) <= set(info.arg_names) or not info.required <= set(params):
                    raise _not_found(fn, params, _suggestion(conn, fn))
                given = tuple(n for n in info.arg_names if n in params)
                stmt = self._statement_for(conn, info, given)
                args = (json.dumps({n: params[n] for n in given}),) if given else ()
                # One round trip: the settings and the call are pipelined and run as the one implicit
                # transaction the extended protocol gives every statement up to the Sync (committed there, or
                # rolled back whole on an error), instead of BEGIN, SET, call and COMMIT each waiting for its
                # answer. Under load each wait is a wake-up and a turn at the GIL (bench/load.py).
                started[0] = True
                with conn.pipeline():
                    conn.execute(
                        _SETTINGS,
                        (role, json.dumps(claims), SEARCH_PATH, f"/rpc/{fn}", "on" if info.read_only else "off"),
                    )
                    answer = conn.execute(stmt, args)
                row = answer.fetchone()
                if info.returns_void:
                    return []  # PostgREST answers 204 with no body; supabase-py reads that as []
                return row[0] if row else None
        except APIError:
            raise
        except PoolTimeout as exc:
            raise _ConnectionLost() from exc
        except psycopg.OperationalError as exc:
            # psycopg raises OperationalError for connection trouble and also for some query errors
            # (classes 53, 54, 55, 57014, 40P01...): only the former mean the database is unreachable.
            state = exc.diag.sqlstate
            if state is None and not started[0]:
                raise _ConnectionLost() from exc
            if state is None or state.startswith("08") or state in ("57P01", "57P02", "57P03"):
                raise DatabaseUnavailable() from exc
            raise _api_error(exc) from exc
        except psycopg.Error as exc:
            if exc.diag.sqlstate is None:
                raise DatabaseUnavailable() from exc
            raise _api_error(exc) from exc

    def close(self) -> None:
        self._pool.close()
