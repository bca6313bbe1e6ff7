"""Tests share helpers through conftest.py and the support modules (tests/*_support.py, care_parties.py, …), never
by importing another test module: importing one runs its module-level code, hands over its fixtures unannounced,
and ties two suites' layout together. This reads every module under tests/ and names each such import."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def is_test_module(dotted: str) -> bool:
    """`tests.test_x` or `test_x` (a relative or bare name): a test module, not a support one."""
    return dotted.rsplit(".", 1)[-1].startswith("test_")


def imported_test_modules(source: str) -> list[str]:
    """The test modules `source` imports, at any depth (inside functions too), in the order written."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [
                alias.name for alias in node.names if alias.name.startswith("tests.") and is_test_module(alias.name)
            ]
        elif isinstance(node, ast.ImportFrom):
            package = node.module or ""
            local = node.level > 0 or package == "tests" or package.startswith("tests.")
            if not local:
                continue
            if is_test_module(package):  # from tests.test_x import y / from .test_x import y
                found.append(package)
            elif package in ("", "tests"):  # from tests import test_x / from . import test_x
                found += [f"tests.{alias.name}" for alias in node.names if is_test_module(alias.name)]
    return found


def test_no_module_under_tests_imports_a_test_module():
    offenders = {
        path.name: imported
        for path in sorted(TESTS.glob("*.py"))
        if (imported := imported_test_modules(path.read_text()))
    }
    assert not offenders, (
        f"test modules imported by other modules (move what they share into conftest.py or a support module): "
        f"{offenders}"
    )


def test_the_check_sees_each_way_of_importing_a_test_module():
    written = [
        "from tests.test_app import app",
        "from tests import test_contract as contract",
        "import tests.test_database",
        "from .test_grid_rows import open_page",
        "from . import test_booking",
        "def helper():\n    from tests.test_termination import consultant_terms",
    ]
    assert [imported_test_modules(source) for source in written] == [
        ["tests.test_app"],
        ["tests.test_contract"],
        ["tests.test_database"],
        ["test_grid_rows"],
        ["tests.test_booking"],
        ["tests.test_termination"],
    ]
    supports = "from tests.page_support import app\nfrom tests import mail_support\nimport pytest"
    assert imported_test_modules(supports) == []
