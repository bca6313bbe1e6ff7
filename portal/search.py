"""Find a consultant: filters, the ranked search, and what to relax when nobody matches.

The score (0-100) is computed in Postgres by public.search_consultants:

| part         | max | how                                                                       |
|--------------|-----|---------------------------------------------------------------------------|
| modality fit |  40 | per wanted modality: level x 7.5, +10 if verified and unexpired; averaged |
| availability |  20 | 10 if accepting with room; +10 x share of preferred times covered          |
| experience   |  20 | 15 x min(years, 25)/25; +5 x min(clients taken on here, 5)/5              |
| language     |  10 | first wanted language 10, another wanted one 5 (no filter: shared 10)     |
| fee          |  10 | within max: 5 + 5 x (1 - fee/max); over max on sliding scale 3;           |
|              |     | no max: 10 x (1 - min(fee, 300)/300) + 2 for a sliding scale, capped      |

Ties go to the name, then the id, so the order never changes between runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from portal.db import Backend, Claims

LEVELS = {1: "Familiar", 2: "Trained", 3: "Certified", 4: "Trainer / approved consultant"}
TIME_BUCKETS = {"Weekday mornings": 1, "Weekday afternoons": 2, "Weekday evenings": 4, "Weekends": 8}
FORMATS = {"any": "Any format", "telehealth": "Telehealth", "in_person": "In person"}
BREAKDOWN_MAX = {"modality": 40, "availability": 20, "experience": 20, "language": 10, "fee": 10}

# How each relaxable filter is named when a search finds nobody.
FILTER_LABELS = {
    "min_level": "the minimum level",
    "modalities": "the modalities",
    "format": "the format (telehealth / in person)",
    "languages": "the languages",
    "fee": "the maximum fee",
    "capacity": "only consultants with room for new clients",
    "times": "the preferred times",
    "jurisdiction": "your state or province",
}


@dataclass
class SearchFilters:
    jurisdiction: str | None
    modalities: list[str] = field(default_factory=list)
    min_level: int = 1
    format: str = "any"
    city: str = ""
    languages: list[str] = field(default_factory=list)
    max_fee: int | None = None
    sliding_ok: bool = False
    accepting_only: bool = True
    times: list[str] = field(default_factory=list)
    page: int = 1
    page_size: int = 10

    def params(self) -> dict[str, Any]:
        return {
            "p_jurisdiction": self.jurisdiction,
            "p_modalities": list(self.modalities),
            "p_min_level": int(self.min_level),
            "p_format": self.format,
            "p_city": (self.city or "").strip() or None,
            "p_languages": list(self.languages),
            "p_max_fee": self.max_fee,
            "p_sliding_ok": bool(self.sliding_ok),
            "p_accepting_only": bool(self.accepting_only),
            "p_times": sum(TIME_BUCKETS[t] for t in self.times),
            "p_limit": self.page_size,
            "p_offset": (max(self.page, 1) - 1) * self.page_size,
        }


@dataclass
class SearchPage:
    total: int
    results: list[dict[str, Any]]
    relax: list[dict[str, Any]]  # [{"filter": name, "count": n}], most helpful first

    def pages(self, page_size: int) -> int:
        return max(1, -(-self.total // max(1, page_size)))


def search(backend: Backend, claims: Claims, filters: SearchFilters) -> SearchPage:
    data = backend.rpc("search_consultants", filters.params(), as_user=claims)
    results = data["results"]
    if results:  # professionalism records resting on at least 5 events, for the cards shown
        records = backend.rpc("consultant_records", {"p_consultants": [r["consultant_id"] for r in results]},
                              as_user=claims)
        for result in results:
            result["record"] = records.get(result["consultant_id"])
    return SearchPage(total=data["total"], results=results, relax=data.get("relax") or [])


def relaxed(filters: SearchFilters, name: str) -> SearchFilters:
    """The same search with one filter removed (never the jurisdiction: licensure is the law)."""
    changes: dict[str, Any] = {"page": 1}
    if name == "min_level":
        changes.update(min_level=1)
    elif name == "modalities":
        changes.update(modalities=[], min_level=1)
    elif name == "format":
        changes.update(format="any", city="")
    elif name == "languages":
        changes.update(languages=[])
    elif name == "fee":
        changes.update(max_fee=None, sliding_ok=False)
    elif name == "capacity":
        changes.update(accepting_only=False)
    elif name == "times":
        changes.update(times=[])
    return replace(filters, **changes)


def explain_empty(page: SearchPage, filters: SearchFilters) -> str:
    """One sentence saying which filter kept the most consultants out."""
    helpful = [r for r in page.relax if r["filter"] != "jurisdiction"]
    if not helpful:
        if any(r["filter"] == "jurisdiction" for r in page.relax):
            return (f"No consultant licensed in {filters.jurisdiction} matches these filters, and the others "
                    "who would are not licensed there.")
        return f"No consultant licensed in {filters.jurisdiction} matches these filters."
    top = helpful[0]
    return f"Nobody matches all filters. {relax_label(top)} would find {top['count']}."


def relax_label(suggestion: dict[str, Any]) -> str:
    """The words for relaxing one filter, used by both the explanation and its button."""
    if suggestion["filter"] == "modalities":
        return "Searching without the modalities"
    return f"Relaxing {FILTER_LABELS[suggestion['filter']]}"
