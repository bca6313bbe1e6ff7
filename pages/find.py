"""Find a consultant: filter, see ranked matches with their score explained, open a profile."""

import streamlit as st

from components import context
from components.cards import competency_badges, conflict_flag, fee, formats, score_breakdown
from components.errors import database_errors_as_messages
from components.reference import modality_names, reference_lists
from portal.profiles import load_my_profile
from portal.search import FILTER_LABELS, FORMATS, LEVELS, TIME_BUCKETS, SearchFilters, explain_empty, relaxed, search

user = context.require_user()
backend = context.backend()
st.title("Find a consultant")
st.caption("Colleagues competent in what you ask for, licensed where you live, screened for conflicts with you.")

with database_errors_as_messages():
    jurisdictions, languages = reference_lists(backend, user.claims)
    modalities = modality_names(backend, user.claims)
    if "find_filters" not in st.session_state:
        mine = load_my_profile(backend, user.claims)
        home = next((lic["jurisdiction"] for lic in mine.get("licenses", [])), None)
        st.session_state["find_filters"] = SearchFilters(jurisdiction=home)

filters: SearchFilters = st.session_state["find_filters"]
FORM_KEYS = ("find_jurisdiction", "find_modalities", "find_min_level", "find_format", "find_city", "find_languages",
             "find_max_fee", "find_times", "find_sliding_ok", "find_accepting_only")

with st.form("find_form", border=True):
    left, right = st.columns(2)
    jurisdiction = left.selectbox(
        "Where you live (state or province)", options=list(jurisdictions), format_func=jurisdictions.get,
        index=list(jurisdictions).index(filters.jurisdiction) if filters.jurisdiction in jurisdictions else None,
        placeholder="Choose…", key="find_jurisdiction",
        help="Consultants must hold a current licence here.")
    wanted = right.multiselect("Modalities", options=list(modalities), default=filters.modalities,
                               format_func=modalities.get, key="find_modalities")
    min_level = left.selectbox("Minimum level", options=list(LEVELS), index=filters.min_level - 1,
                               format_func=lambda n: f"{n} · {LEVELS[n]}", key="find_min_level")
    form = right.selectbox("Format", options=list(FORMATS), index=list(FORMATS).index(filters.format),
                           format_func=FORMATS.get, key="find_format")
    city = left.text_input("City (in person)", value=filters.city, key="find_city")
    langs = right.multiselect("Languages", options=list(languages), default=filters.languages,
                              format_func=languages.get, key="find_languages")
    max_fee = left.number_input("Maximum fee per session (USD)", min_value=0, max_value=1000, step=10,
                                value=filters.max_fee, key="find_max_fee")
    times = right.multiselect("Preferred times", options=list(TIME_BUCKETS), default=filters.times,
                              key="find_times")
    sliding_ok = left.checkbox("Include sliding-scale consultants above my maximum", value=filters.sliding_ok,
                               key="find_sliding_ok")
    accepting_only = right.checkbox("Only consultants with room for a new client", value=filters.accepting_only,
                                    key="find_accepting_only")
    if st.form_submit_button("Search", type="primary", key="find_submit", icon=":material/search:"):
        filters = SearchFilters(jurisdiction=jurisdiction, modalities=wanted, min_level=min_level, format=form,
                                city=city, languages=langs, max_fee=max_fee, sliding_ok=sliding_ok,
                                accepting_only=accepting_only, times=times)
        st.session_state["find_filters"] = filters

if not filters.jurisdiction:
    st.info("Choose the state or province where you live to start.", icon=":material/location_on:")
    st.stop()

with database_errors_as_messages():
    page = search(backend, user.claims, filters)

if page.total == 0:
    st.warning(explain_empty(page, filters), icon=":material/filter_alt_off:")
    for suggestion in [r for r in page.relax if r["filter"] != "jurisdiction"][:3]:
        label = FILTER_LABELS[suggestion["filter"]]
        if st.button(f"Relax {label} ({suggestion['count']} found)", key=f"find_relax_{suggestion['filter']}"):
            st.session_state["find_filters"] = relaxed(filters, suggestion["filter"])
            for key in FORM_KEYS:  # redraw the form from the relaxed filters
                st.session_state.pop(key, None)
            st.rerun()
    st.stop()

pages = page.pages(filters.page_size)
st.markdown(f"**{page.total}** consultant(s) match · page {filters.page} of {pages}")
for result in page.results:
    with st.container(border=True, key=f"find_card_{result['consultant_id']}"):
        head, score = st.columns([3, 1])
        pronouns = f" ({result['pronouns']})" if result.get("pronouns") else ""
        head.markdown(f"#### {result['display_name']}{pronouns}")
        head.caption(f"{formats(result)} · {fee(result)} · "
                     f"{', '.join(languages.get(code, code) for code in result['languages'])} · "
                     f"{result.get('years_in_practice') or 0} years in practice")
        score.metric("Match", f"{result['score']}/100")
        st.markdown(competency_badges(result["competencies"]))
        if not result["has_room"]:
            st.caption(":material/hourglass: Not taking new clients right now.")
        conflict_flag(result["conflict"])
        with st.expander("Why this score"):
            score_breakdown(result["breakdown"])
        if st.button("View profile", key=f"find_view_{result['consultant_id']}"):
            st.session_state["view_consultant"] = result["consultant_id"]
            st.switch_page("pages/consultant.py")

previous, _, following = st.columns([1, 2, 1])
if previous.button("Previous", key="find_previous", disabled=filters.page <= 1):
    filters.page -= 1
    st.rerun()
if following.button("Next", key="find_next", disabled=filters.page >= pages):
    filters.page += 1
    st.rerun()
