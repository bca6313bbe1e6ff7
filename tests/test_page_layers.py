"""Pages are short scripts that reach the database only through the core (issue 24, item 4): no views/*.py or
components/*.py calls `backend.rpc` (portal/ holds every call), and no views/*.py is longer than 250 lines. This
reads every such file and names each one that breaks either rule."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MAX_VIEW_LINES = 250

# Files that may still call `.rpc(` for now, each with the reason; remove an entry once its calls moved to portal/.
RPC_ALLOWED: dict[str, str] = {}


def rpc_calls(source: str) -> list[int]:
    """The lines of `source` that call a method named rpc (`backend.rpc(...)`, `_backend.rpc(...)`, ...)."""
    return sorted(
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "rpc"
    )


def page_files() -> list[Path]:
    return sorted([*REPO.glob("views/*.py"), *REPO.glob("components/*.py")])


def test_the_rpc_finder_sees_a_call_however_it_is_written():
    source = "x = backend.rpc('f', {})\ndef g(b):\n    return context.backend().rpc(\n        'h', {}\n    )\nrpc = 1\n"
    assert rpc_calls(source) == [1, 3]
    assert rpc_calls("from portal.screening import check\ncheck(backend, claims, other)\n") == []


def test_no_page_or_component_calls_the_backend_directly():
    assert page_files(), "views/ and components/ hold the pages"
    found = {
        path.relative_to(REPO).as_posix(): lines
        for path in page_files()
        if (lines := rpc_calls(path.read_text(encoding="utf-8")))
    }
    offenders = {name: lines for name, lines in found.items() if name not in RPC_ALLOWED}
    assert offenders == {}, f"call the core (portal/) instead of backend.rpc: {offenders}"
    stale = sorted(set(RPC_ALLOWED) - set(found))
    assert stale == [], f"no longer calls rpc: remove from RPC_ALLOWED: {stale}"


def test_every_page_is_a_short_script():
    long = {
        path.relative_to(REPO).as_posix(): count
        for path in sorted(REPO.glob("views/*.py"))
        if (count := len(path.read_text(encoding="utf-8").splitlines())) > MAX_VIEW_LINES
    }
    assert long == {}, f"views longer than {MAX_VIEW_LINES} lines (move parts into components/ or portal/): {long}"
