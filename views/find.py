"""Find a consultant: filter, see ranked matches with their score explained, open a profile."""

import streamlit as st

from components import context
from components.cards import competency_badges, conflict_flag, fee, formats, score_breakdown
from components.errors import database_errors_as_messages
from components.reference import modality_names, reference_lists
from portal.appointments import record_summary
from portal.plain_text import plain
from portal.profiles import load_my_profile
from portal.search import (
    FORMATS,
    LEVELS,
    TIME_BUCKETS,
    SearchFilters,
    broaden,
    broaden_label,
    count_words,
    explain_empty,
    narrowing,
    relax_label,
    relaxed,
    score_parts,
    search,
    single_relaxations,
)

user = context.require_user()
backend = context.backend()
st.title("Find a consultant")
st.caption("Colleagues competent in what you ask for, licensed where you live, screened for conflicts with you.")

with database_errors_as_messages():
    jurisdictions, languages = reference_lists(backend, user.claims)
    modalities = modality_names(backend, user.claims)
    if "find_filters" not in st.session_state:
        mine = load_my_profile(backend, user.claims)
        home = mine.get("home_jurisdiction") or next((lic["jurisdiction"] for lic in mine.get("licenses", [])), None)
        st.session_state["find_filters"] = SearchFilters(jurisdiction=home)

filters: SearchFilters = st.session_state["find_filters"]
# The form's widgets are created from the filters with explicit values. Relaxing a filter starts a
# new "generation" of widget keys, so the widgets are created afresh from the relaxed filters
# (writing widget values through st.session_state does not survive the browser's first reruns).
generation = st.session_state.setdefault("find_form_generation", 0)


def key(name: str) -> str:
    return f"find_{name}" if generation == 0 else f"find_{name}_{generation}"


FILTERS_OPEN = "find_filters_open"  # the expander's state: open until a search has run, then folded away


def run_search() -> None:
    """The form's values become the search (before the page is drawn, so the folded filters name them), and the
    filters fold away: a phone shows the results on its first screen."""
    value = st.session_state.get
    st.session_state["find_filters"] = SearchFilters(
        jurisdiction=value(key("jurisdiction")),
        modalities=value(key("modalities")) or [],
        min_level=value(key("min_level")) or 1,
        format=value(key("format")) or "any",
        city=value(key("city")) or "",
        languages=value(key("languages")) or [],
        max_fee=value(key("max_fee")),
        sliding_ok=bool(value(key("sliding_ok"))),
        accepting_only=bool(value(key("accepting_only"))),
        times=value(key("times")) or [],
    )
    st.session_state[FILTERS_OPEN] = False


def filters_label(filters: SearchFilters) -> str:
    """The folded filters say what the search asks, so nobody needs to open them to know."""
    if not filters.jurisdiction:
        return "Filters"
    more = len([name for name in narrowing(filters) if name != "capacity"])
    where = jurisdictions.get(filters.jurisdiction, filters.jurisdiction)
    return f"Filters: {where}" + (f" and {more} more" if more else "")


with (
    st.expander(
        filters_label(filters),
        expanded=True,  # until the seeker presses Search (run_search folds them)
        key=FILTERS_OPEN,
        on_change="rerun",
        icon=":material/tune:",
    ),
    st.form(f"find_form_{generation}", border=False),
):
    where, what = st.columns(2)
    codes = list(jurisdictions)
    where.selectbox(
        "Where you live",
        options=codes,
        format_func=jurisdictions.get,
        placeholder="Choose…",
        key=key("jurisdiction"),
        index=codes.index(filters.jurisdiction) if filters.jurisdiction in codes else None,
        help="Consultants must hold a current licence here.",
    )
    what.multiselect(
        "Modalities",
        options=list(modalities),
        default=filters.modalities,
        format_func=modalities.get,
        key=key("modalities"),
        help="Consultants must be competent in every modality you choose.",
    )
    level_col, format_col = st.columns(2)
    level_col.selectbox(
        "Minimum level",
        options=list(LEVELS),
        index=filters.min_level - 1,
        format_func=lambda n: f"{n} · {LEVELS[n]}",
        key=key("min_level"),
    )
    format_col.selectbox(
        "Format",
        options=list(FORMATS),
        index=list(FORMATS).index(filters.format),
        format_func=FORMATS.get,
        key=key("format"),
    )
    city_col, langs_col = st.columns(2)
    city_col.text_input("City (in person)", value=filters.city, key=key("city"))
    langs_col.multiselect(
        "Languages",
        options=list(languages),
        default=filters.languages,
        format_func=languages.get,
        key=key("languages"),
        help="Consultants who speak any one of them.",
    )
    fee_col, times_col = st.columns(2)
    fee_col.number_input(
        "Maximum fee (USD)", min_value=0, max_value=1000, step=10, value=filters.max_fee, key=key("max_fee")
    )
    times_col.multiselect(
        "Preferred times",
        options=list(TIME_BUCKETS),
        default=filters.times,
        key=key("times"),
        help="Consultants with weekly hours in any of them.",
    )
    st.checkbox("Include sliding-scale fees above my maximum", value=filters.sliding_ok, key=key("sliding_ok"))
    st.checkbox("Only consultants with room for a new client", value=filters.accepting_only, key=key("accepting_only"))
    st.form_submit_button("Search", type="primary", key=key("submit"), icon=":material/search:", on_click=run_search)

if not filters.jurisdiction:
    st.info("Choose the state or province where you live to start.", icon=":material/location_on:")
    st.stop()

with database_errors_as_messages():
    page = search(backend, user.claims, filters)

if page.total == 0:
    suggestions = single_relaxations(page)[:3]
    broadening = None
    if not suggestions:  # no single filter's removal finds anyone: offer to remove every optional one at once
        with database_errors_as_messages():
            broadening = broaden(backend, user.claims, filters)
    st.warning(
        explain_empty(page, filters, broadening, modality_names=modalities, language_names=languages),
        icon=":material/filter_alt_off:",
    )
    for suggestion in suggestions:
        if st.button(
            f"{relax_label(suggestion)} ({count_words(suggestion['count'])} found)",
            key=f"find_relax_{suggestion['filter']}",
        ):
            st.session_state["find_filters"] = relaxed(filters, suggestion["filter"])
            st.session_state["find_form_generation"] = generation + 1  # fresh widgets from the relaxed filters
            st.rerun()
    if broadening is not None and broadening.count:
        found = count_words(broadening.count)
        if st.button(
            f"{broaden_label(filters, button=True)} ({found} found)",
            key="find_relax_all",
            help="Keeps only where you live; every other filter is cleared.",
        ):
            st.session_state["find_filters"] = broadening.filters
            st.session_state["find_form_generation"] = generation + 1  # fresh widgets from the broadened filters
            st.rerun()
    st.stop()

pages = page.pages(filters.page_size)
matches = "consultant matches" if page.total == 1 else "consultants match"
capped = " (the best 1,000 are shown; narrow the filters to see others)" if page.total_capped else ""
st.header("Results", anchor=False)  # h2 under the page's h1; each card's name is an h3 below it
st.markdown(f"**{page.total_words().capitalize()}** {matches}{capped} · page {filters.page} of {pages}")
for result in page.results:
    with st.container(border=True, key=f"find_card_{result['consultant_id']}"):
        head, score = st.columns([3, 1])
        pronouns = f" ({plain(result['pronouns'])})" if result.get("pronouns") else ""
        head.markdown(f"### {plain(result['display_name'])}{pronouns}")
        head.caption(
            f"{formats(result)} · {fee(result)} · "
            f"{', '.join(languages.get(code, code) for code in result['languages'])} · "
            f"{result.get('years_in_practice') or 0} years in practice"
        )
        score.metric("Match", f"{result['score']}/100")
        st.markdown(competency_badges(result["competencies"]))
        if result.get("record"):
            st.caption(f":material/verified_user: {record_summary(result['record'])}")
        if not result["has_room"]:
            st.caption(":material/hourglass: Not taking new clients right now.")
        conflict_flag(result["conflict"])
        with st.expander("Why this score"):
            score_breakdown(score_parts(result, filters, modalities, languages))
        if st.button("View profile", key=f"find_view_{result['consultant_id']}"):
            st.session_state["view_consultant"] = result["consultant_id"]
            st.switch_page("views/consultant.py")

if pages > 1:
    previous, _, following = st.columns([1, 2, 1])
    if previous.button("Previous", key="find_previous", disabled=filters.page <= 1):
        filters.page -= 1
        st.rerun()
    if following.button("Next", key="find_next", disabled=filters.page >= pages):
        filters.page += 1
        st.rerun()
