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

score_parts puts each part in words for "Why this score", from the result's own fields and the search's filters,
following the same branches (the SQL is private.search_score_sql; the facts it reads, private.refresh_search_facts).

Ties go to the name, then the id, so the order never changes between runs.

Counts are exact up to 1,000; beyond, the search reports 1,001 with total_capped and the page says
"more than 1,000" (count_words). The top of the list is exact whatever the count.
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


# Counts above this are not counted further: the search and the relaxation counts say "more than 1,000".
COUNT_CAP = 1000


def count_words(n: int) -> str:
    """A count as the page says it: exact up to 1,000, otherwise "more than 1,000"."""
    return f"more than {COUNT_CAP:,}" if n > COUNT_CAP else f"{n:,}"


@dataclass
class SearchPage:
    total: int  # exact up to 1,000; 1,001 means more (total_capped)
    results: list[dict[str, Any]]
    relax: list[dict[str, Any]]  # [{"filter": name, "count": n}], most helpful first (counts capped alike)
    total_capped: bool = False

    def pages(self, page_size: int) -> int:
        # Past the cap the pages cover the best 1,000: the count beyond is not known, so neither is a last page.
        shown = min(self.total, COUNT_CAP) if self.total_capped else self.total
        return max(1, -(-shown // max(1, page_size)))

    def total_words(self) -> str:
        """ "12", or "more than 1,000"."""
        return count_words(self.total)


def search(backend: Backend, claims: Claims, filters: SearchFilters) -> SearchPage:
    data = backend.rpc("search_consultants", filters.params(), as_user=claims)
    results = data["results"]
    if results:  # professionalism records resting on at least 5 events, for the cards shown
        records = backend.rpc(
            "consultant_records", {"p_consultants": [r["consultant_id"] for r in results]}, as_user=claims
        )
        for result in results:
            result["record"] = records.get(result["consultant_id"])
    return SearchPage(
        total=data["total"],
        results=results,
        relax=data.get("relax") or [],
        total_capped=bool(data.get("total_capped")) or data["total"] > COUNT_CAP,
    )


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


def narrowing(filters: SearchFilters) -> list[str]:
    """The optional filters this search sets, in the order of the form. The jurisdiction is never optional; the
    minimum level counts only with modalities, and the city only with an in-person format (the search ignores them
    otherwise)."""
    names = []
    if filters.modalities:
        names.append("modalities")
        if filters.min_level > 1:
            names.append("min_level")
    if filters.format != "any":
        names.append("format")
    if filters.languages:
        names.append("languages")
    if filters.max_fee is not None:
        names.append("fee")
    if filters.accepting_only:
        names.append("capacity")
    if filters.times:
        names.append("times")
    return names


def relaxed_all(filters: SearchFilters, names: list[str] | None = None) -> SearchFilters:
    """The same search with every optional filter removed (or those named): only the jurisdiction is kept."""
    for name in narrowing(filters) if names is None else names:
        filters = relaxed(filters, name)
    return filters


def filter_words(
    filters: SearchFilters,
    name: str,
    modality_names: dict[str, str] | None = None,
    language_names: dict[str, str] | None = None,
) -> str:
    """One filter as the seeker set it, e.g. "the maximum fee ($50)"."""
    modality_names, language_names = modality_names or {}, language_names or {}
    if name == "modalities":
        return f"the modalities ({', '.join(modality_names.get(m, m) for m in filters.modalities)})"
    if name == "min_level":
        return f"the minimum level ({filters.min_level} · {LEVELS.get(filters.min_level, filters.min_level)})"
    if name == "format":
        city = (filters.city or "").strip()
        where = f" in {city}" if filters.format == "in_person" and city else ""
        return f"the format ({FORMATS.get(filters.format, filters.format).lower()}{where})"
    if name == "languages":
        return f"the languages ({', '.join(language_names.get(c, c) for c in filters.languages)})"
    if name == "fee":
        sliding = ", or a sliding scale" if filters.sliding_ok else ""
        return f"the maximum fee (${filters.max_fee}{sliding})"
    if name == "times":
        return f"the preferred times ({', '.join(t.lower() for t in filters.times)})"
    return FILTER_LABELS[name]


def words_list(parts: list[str]) -> str:
    """ "a", "a and b", "a, b and c"."""
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"


@dataclass
class Broadening:
    """When no single filter's removal finds anyone: the search with every optional filter removed."""

    filters: SearchFilters  # the broadened search (only the jurisdiction kept)
    count: int  # how many it finds (1,001: more than 1,000)
    narrowing: list[str]  # the optional filters the seeker's search set, in the order of the form


def broaden(backend: Backend, claims: Claims, filters: SearchFilters) -> Broadening | None:
    """The search with only the jurisdiction kept, and how many it finds (one more call of the same search, asking
    for one row; its total counts them all). None when the search sets no optional filter."""
    names = narrowing(filters)
    if not names:
        return None
    wider = relaxed_all(filters, names)
    data = backend.rpc("search_consultants", replace(wider, page_size=1).params(), as_user=claims)
    return Broadening(filters=wider, count=int(data["total"]), narrowing=names)


def single_relaxations(page: SearchPage) -> list[dict[str, Any]]:
    """The filters whose removal alone finds someone (never the jurisdiction), most helpful first."""
    return [r for r in page.relax if r["filter"] != "jurisdiction"]


def explain_empty(
    page: SearchPage,
    filters: SearchFilters,
    broadening: Broadening | None = None,
    *,
    modality_names: dict[str, str] | None = None,
    language_names: dict[str, str] | None = None,
) -> str:
    """What kept everyone out: the filter that removed most; or, when removing any one filter still finds nobody,
    the filters narrowing the search together and what showing everyone licensed there would find."""
    helpful = single_relaxations(page)
    if helpful:
        top = helpful[0]
        return f"Nobody matches all filters. {relax_label(top)} would find {count_words(top['count'])}."
    if any(r["filter"] == "jurisdiction" for r in page.relax):
        sentence = (
            f"No consultant licensed in {filters.jurisdiction} matches these filters, and the others "
            "who would are not licensed there."
        )
    else:
        sentence = f"No consultant licensed in {filters.jurisdiction} matches these filters."
    if broadening is None or not broadening.narrowing:
        return sentence
    words = [filter_words(filters, name, modality_names, language_names) for name in broadening.narrowing]
    if len(words) == 1:
        sentence += f" Only {words[0]} narrows your search."
    else:
        sentence += f" Removing any one filter alone still finds nobody: together {words_list(words)} narrow it."
    if broadening.count:
        return sentence + f" {broaden_label(filters)} finds {count_words(broadening.count)}."
    return sentence + f" Nobody licensed in {filters.jurisdiction} is available to you even without them."


def broaden_label(filters: SearchFilters, *, button: bool = False) -> str:
    """The words for the one action that removes every optional filter, in the explanation or on its button."""
    return f"{'Show' if button else 'Showing'} everyone licensed in {filters.jurisdiction}"


def relax_label(suggestion: dict[str, Any]) -> str:
    """The words for relaxing one filter, used by both the explanation and its button."""
    if suggestion["filter"] == "modalities":
        return "Searching without the modalities"
    return f"Relaxing {FILTER_LABELS[suggestion['filter']]}"


# --- "Why this score": each part of the score in words ----------------------------------------------------------
# Each sentence follows the branch private.search_score_sql takes for this search and this consultant; the points
# shown are the search's own (the breakdown), so words and number never disagree on what was counted.

LEVEL_POINTS, VERIFIED_POINTS = 7.5, 10  # per competency: level x 7.5, +10 when verified and unexpired
YEARS_COUNTED, YEARS_POINTS, CLIENTS_COUNTED = 25, 15, 5  # experience: 15 x min(years, 25)/25 + min(clients, 5)
FEE_CEILING, SLIDING_POINTS, SLIDING_OVER_MAX = 300, 2, 3  # fee without a maximum: $0 scores 10, $300 or more 0


@dataclass(frozen=True)
class ScorePart:
    name: str  # "modality", as in BREAKDOWN_MAX
    points: float
    maximum: int
    words: str  # why, e.g. "CBT at level 3 (Certified), verified"

    def sentence(self) -> str:
        return f"{self.name.capitalize()}: {self.words}: {self.points:g} of {self.maximum}"


def points_text(value: float) -> str:
    return f"{round(value, 1):g}"


def competency_words(competency: dict[str, Any], names: dict[str, str]) -> str:
    level = competency["level"]
    status = "verified" if competency.get("verified") else "not yet verified"
    name = names.get(competency["modality"]) or competency.get("name") or competency["modality"]
    return f"{name} at level {level} ({LEVELS.get(level, level)}), {status}"


def competency_points(competency: dict[str, Any]) -> float:
    return competency["level"] * LEVEL_POINTS + (VERIFIED_POINTS if competency.get("verified") else 0)


def modality_words(result: dict[str, Any], filters: SearchFilters, names: dict[str, str]) -> str:
    held = {c["modality"]: c for c in result.get("competencies") or []}
    if filters.modalities:
        asked = [(m, held.get(m)) for m in filters.modalities]
        parts = [competency_words(c, names) if c else f"no {names.get(m, m)} competency listed" for m, c in asked]
        if len(parts) == 1:
            return parts[0]
        scored = [
            f"{text} ({points_text(competency_points(c)) if c else 0})"
            for text, (_, c) in zip(parts, asked, strict=True)
        ]
        return f"the average of {words_list(scored)}"
    if not held:
        return "no modality chosen, and no competencies listed"
    listed = [f"{competency_words(c, names)} ({points_text(competency_points(c))})" for c in held.values()]
    if len(listed) == 1:
        return f"no modality chosen, so their one competency counts: {listed[0]}"
    return f"no modality chosen, so all {len(listed)} of their competencies count, averaged: {words_list(listed)}"


def availability_words(result: dict[str, Any], filters: SearchFilters, points: float) -> str:
    room = 10 if result.get("has_room") else 0
    first = "has room for a new client (10)" if room else "not taking new clients now (0)"
    hours = round(points - room, 1)
    if not filters.times:
        second = "has weekly hours set (10)" if hours >= 10 else "has no weekly hours set yet (0)"
        return f"{first}; {second}"
    wanted = len(filters.times)
    covered = max(0, min(wanted, round(hours * wanted / 10)))
    if wanted == 1:
        second = "has weekly hours in your preferred time" if covered else "has no weekly hours in your preferred time"
    else:
        second = f"has weekly hours in {covered} of your {wanted} preferred times"
    return f"{first}; {second} ({points_text(hours)})"


def experience_words(result: dict[str, Any], points: float) -> str:
    years = int(result.get("years_in_practice") or 0)
    counted = min(years, YEARS_COUNTED)
    years_points = YEARS_POINTS * counted / YEARS_COUNTED
    clients = max(0, min(CLIENTS_COUNTED, round(points - years_points)))
    if years >= YEARS_COUNTED:
        years_text = f"{years} years in practice (25 or more count fully: 15)"
    else:
        unit = "year" if years == 1 else "years"
        years_text = f"{years} {unit} in practice ({points_text(years_points)} of 15; 25 years count fully)"
    if clients >= CLIENTS_COUNTED:
        clients_text = "5 or more clients taken on through the portal (5 of 5)"
    else:
        unit = "client" if clients == 1 else "clients"
        clients_text = f"{clients} {unit} taken on through the portal ({clients} of 5)"
    return f"{years_text}; {clients_text}"


def language_words(result: dict[str, Any], filters: SearchFilters, points: float, names: dict[str, str]) -> str:
    if not filters.languages:
        if points >= 10:
            return "no language chosen; they speak a language on your profile"
        return "no language chosen, and they speak none of the languages on your profile"
    first = filters.languages[0]
    if points >= 10:
        return f"speaks {names.get(first, first)}, your first choice"
    spoken = [names.get(code, code) for code in filters.languages[1:] if code in (result.get("languages") or [])]
    if points > 0:
        other = words_list(spoken or ["another language you chose"])
        return f"speaks {other}, not your first choice ({names.get(first, first)}), which counts half"
    return "speaks none of the languages you chose"


def fee_words(result: dict[str, Any], filters: SearchFilters) -> str:
    fee, sliding = result.get("fee_usd"), bool(result.get("sliding_scale"))
    if filters.max_fee is not None:
        ceiling = filters.max_fee
        if fee is not None and fee <= ceiling:
            below = 5 * (1 - fee / max(ceiling, 1))
            return f"${fee} is within your ${ceiling} maximum: 5 for that, and {points_text(below)} for how far below"
        stated = f"${fee} is above your ${ceiling} maximum" if fee is not None else "fee not stated"
        return f"{stated}, but they offer a sliding scale, which counts {SLIDING_OVER_MAX}"
    if fee is None:
        base = "no maximum fee set, and their fee is not stated, so it counts as $300 or more (0)"
    elif fee >= FEE_CEILING:
        base = f"no maximum fee set; ${fee} is $300 or more, which counts 0"
    elif sliding:  # the fee's own points, then what the sliding scale adds to them
        base = (
            f"no maximum fee set, so the fee is scored on its own, from 10 at $0 to 0 at $300: "
            f"${fee} counts {points_text(10 * (1 - fee / FEE_CEILING))}"
        )
    else:  # the points follow ("…: 4.7 of 10"): not said twice
        return f"no maximum fee set, so the fee is scored on its own, from 10 at $0 to 0 at $300; theirs is ${fee}"
    return base + (f"; a sliding scale adds {SLIDING_POINTS} (at most 10 in all)" if sliding else "")


def score_parts(
    result: dict[str, Any],
    filters: SearchFilters,
    modality_names: dict[str, str] | None = None,
    language_names: dict[str, str] | None = None,
) -> list[ScorePart]:
    """The five parts of a result's score, each with why it scored what it did (see the table above)."""
    modality_names, language_names = modality_names or {}, language_names or {}
    breakdown = result.get("breakdown") or {}
    points = {part: float(breakdown.get(part) or 0) for part in BREAKDOWN_MAX}
    words = {
        "modality": modality_words(result, filters, modality_names),
        "availability": availability_words(result, filters, points["availability"]),
        "experience": experience_words(result, points["experience"]),
        "language": language_words(result, filters, points["language"], language_names),
        "fee": fee_words(result, filters),
    }
    return [ScorePart(part, points[part], maximum, words[part]) for part, maximum in BREAKDOWN_MAX.items()]
