"""After a benchmark ran: did it test anything? A failed check is a sentence; the benchmark then exits 1.

A benchmark that measures a path which errors, books nothing or returns no rows reports fast figures
for nothing (issue 22, item 9: the load test's booking race silently stopped running). Each
benchmark lists what it must have seen; `.ci/run` runs them all in quick mode and fails on any miss.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Checks:
    benchmark: str
    passed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def expect(self, ok: bool, what: str) -> bool:
        """Record `what` (a sentence saying what must hold) as passed or failed."""
        (self.passed if ok else self.failed).append(what)
        return ok

    def as_dict(self) -> dict[str, list[str]]:
        return {"passed": list(self.passed), "failed": list(self.failed)}

    def report(self) -> int:
        """Print the verdict; 0 when every check held, 1 otherwise (the benchmark's exit status)."""
        if not self.failed:
            print(f"{self.benchmark}: all {len(self.passed)} checks held (it tested what it measures)")
            return 0
        print(f"{self.benchmark}: {len(self.failed)} of {len(self.failed) + len(self.passed)} checks FAILED:")
        for what in self.failed:
            print(f"  FAILED: {what}")
        return 1
