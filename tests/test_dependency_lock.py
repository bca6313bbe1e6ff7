"""The hashed locks say what the requirement files say: a pin changed in one and not the other fails here,
not on a fresh machine whose `pip install --require-hashes` would install something else."""

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_PIN = re.compile(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==([^\s;\\#]+)", re.MULTILINE)


def pins(path: Path) -> dict[str, str]:
    """{normalised name: version} for every `name==version` line of a requirements or lock file."""
    return {re.sub(r"[-_.]+", "-", name).lower(): version for name, version in _PIN.findall(path.read_text())}


@pytest.mark.parametrize(
    ("requirements", "lock"),
    [
        ("requirements.txt", "requirements.lock"),
        ("requirements-dev.txt", "requirements-dev.lock"),
    ],
)
def test_every_direct_pin_is_locked_at_its_version(requirements, lock):
    direct, locked = pins(REPO / requirements), pins(REPO / lock)
    if requirements == "requirements-dev.txt":
        direct |= pins(REPO / "requirements.txt")  # included with -r
    differing = {name: (version, locked.get(name)) for name, version in direct.items() if locked.get(name) != version}
    assert not differing, f"{lock} is out of date (pin, locked): {differing}; recompile it with the command at its top"


def test_every_locked_package_carries_a_hash():
    for lock in ("requirements.lock", "requirements-dev.lock"):
        entries = re.split(r"\n(?=[A-Za-z0-9])", (REPO / lock).read_text())
        unhashed = [entry.split()[0] for entry in entries if "==" in entry and "--hash=sha256:" not in entry]
        assert not unhashed, f"{lock}: packages without a hash: {unhashed}"


def test_the_check_sees_a_changed_pin(tmp_path):
    changed = tmp_path / "requirements.txt"
    changed.write_text((REPO / "requirements.txt").read_text().replace("bcrypt==", "bcrypt==0.0.0+"))
    assert pins(changed)["bcrypt"] != pins(REPO / "requirements.lock")["bcrypt"]
