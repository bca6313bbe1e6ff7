"""My availability's controls, drawn from an AvailabilityEditor (portal/weekly_ranges.py) kept in the session.

Each weekday is a switch with its time ranges (15-minute steps, add and remove, copy to other days); date
overrides and time off are picked on calendars and listed with remove buttons; a week chart shows what
colleagues would see, on the consultant's clock or another zone's.

The editor is the truth, the widgets a view of it. Every widget is created from the editor's value (a range's
time pickers by seeding their state, so a cleared time stays cleared: see `_time_input`) with a key
from the page's FormGeneration that carries the id of its range, override or period, so removing one never
shifts another's values. `sync` copies what the widgets hold into the editor at the start of each run and
before each button's action (a callback), so a change typed just before a click is never lost. An action that
changes what existing widgets show (copying a day, adding an override, loading saved data) starts a new
generation: the widgets are created afresh from the editor.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, time
from zoneinfo import ZoneInfo

import altair as alt
import pandas as pd
import streamlit as st

from components.formstate import FormGeneration
from portal.availability import WEEKDAYS
from portal.calendar_sync import busy_on_clock
from portal.consultants import NoticeRule
from portal.local_times import times_caption, zone_words
from portal.plain_text import plain
from portal.profiles import known_timezones, timezone_label
from portal.weekly_ranges import (
    OVERRIDE,
    SETTINGS,
    STEP,
    WEEKLY,
    AvailabilityEditor,
    as_time,
    day_words,
    span,
    today_in,
)

MESSAGES = "availability_messages"  # {"copy_3": "…", "override": "…", "time_off": "…"}: refusals of an action
NOTICE_RULE = "availability_notice_rule"  # the saved notice the database applies, for the preview (a NoticeRule)
PREVIEW_ZONE = "Europe/London"


def messages() -> dict[str, str]:
    return st.session_state.setdefault(MESSAGES, {})


def sync(editor: AvailabilityEditor, form: FormGeneration) -> None:
    """Copy the widgets' values (this generation's) into the editor."""
    state = st.session_state
    zone = state.get(form.key("timezone"))
    if zone:
        editor.timezone = zone
    for name in SETTINGS:
        if form.key(name) in state:
            value = state[form.key(name)]
            editor.settings[name] = None if value is None else int(value)
    for day in editor.days.values():
        switch = form.key(f"day{day.number}_on")
        if switch in state and bool(state[switch]) != day.on:
            editor.set_on(day.number, bool(state[switch]))
        for r in day.ranges:
            for attribute, suffix in (("starts_at", "from"), ("ends_at", "until")):
                key = form.key(f"range_{r.id}_{suffix}")
                if key in state:
                    setattr(r, attribute, as_time(state[key]))


def _then(editor: AvailabilityEditor, form: FormGeneration, action: Callable[[], None]) -> None:
    """A button's callback: take in what was typed, then act."""
    sync(editor, form)
    action()


# --- the rules ------------------------------------------------------------------------------------------------


def field_error(errors: dict[str, str], name: str) -> None:
    if errors.get(name):
        st.error(errors[name], icon=":material/error:")


def rules(editor: AvailabilityEditor, form: FormGeneration, errors: dict[str, str]) -> None:
    st.header("Rules")
    zones = sorted(known_timezones())
    st.selectbox(
        "Time zone",
        options=zones,
        key=form.key("timezone"),
        format_func=timezone_label,
        index=zones.index(editor.timezone) if editor.timezone in zones else None,
    )
    field_error(errors, "timezone")
    values = editor.settings
    left, right = st.columns(2)
    with left:
        st.number_input(
            "Session length (minutes)", step=5, value=values["session_minutes"], key=form.key("session_minutes")
        )
        field_error(errors, "session_minutes")
    with right:
        st.number_input(
            "Buffer between sessions (minutes)", step=5, value=values["buffer_minutes"], key=form.key("buffer_minutes")
        )
        field_error(errors, "buffer_minutes")
    left, right = st.columns(2)
    with left:
        st.number_input(
            "Minimum booking notice (hours)", step=1, value=values["min_notice_hours"], key=form.key("min_notice_hours")
        )
        field_error(errors, "min_notice_hours")
    with right:
        st.number_input(
            "Maximum sessions per week (empty: no maximum)",
            step=1,
            value=values["max_sessions_per_week"],
            key=form.key("max_sessions_per_week"),
        )
        field_error(errors, "max_sessions_per_week")
    left, _ = st.columns(2)
    with left:
        st.number_input(
            "Late-cancellation threshold (hours)",
            step=1,
            value=values["late_cancel_hours"],
            key=form.key("late_cancel_hours"),
        )
        field_error(errors, "late_cancel_hours")


# --- weekly hours -----------------------------------------------------------------------------------------------


def weekly_hours(editor: AvailabilityEditor, form: FormGeneration, errors: dict[str, str]) -> None:
    st.header("Weekly hours")
    st.caption(f"Switch on the days you work and give one or more ranges for each. {times_caption(editor.timezone)}")
    problems = editor.range_problems()
    for day in editor.days.values():
        with st.container(border=True, key=form.key(f"day{day.number}")):
            head, status = st.columns([2, 3], vertical_alignment="center")
            head.toggle(day.name, value=day.on, key=form.key(f"day{day.number}_on"))
            if not day.on:
                status.caption("Not working")
                continue
            if not day.ranges:
                status.caption("No hours yet: add a range.")
            for r in day.ranges:
                start, until, remove = st.columns([3, 3, 2], vertical_alignment="bottom")
                with start:
                    _time_input(f"{day.name} from", r.starts_at, form.key(f"range_{r.id}_from"))
                with until:
                    _time_input(f"{day.name} until", r.ends_at, form.key(f"range_{r.id}_until"))
                remove.button(
                    "Remove",
                    icon=":material/delete:",
                    key=form.key(f"range_{r.id}_remove"),
                    help=f"Remove {span(r.starts_at, r.ends_at)} on {day.name}",
                    width="stretch",
                    on_click=_then,
                    args=(editor, form, lambda rid=r.id: editor.remove_range(rid)),
                )
                if r.id in problems:
                    st.error(problems[r.id], icon=":material/error:")
            add, copy = st.columns(2)
            add.button(
                "Add a range",
                icon=":material/add:",
                key=form.key(f"day{day.number}_add"),
                on_click=_then,
                args=(editor, form, lambda n=day.number: editor.add_range(n)),
            )
            with copy.popover(
                "Copy to…", icon=":material/content_copy:", width="stretch", key=form.key(f"day{day.number}_copy_menu")
            ):
                others = [n for n in WEEKDAYS if n != day.number]
                st.pills(
                    f"Copy {day.name}'s hours to",
                    options=others,
                    format_func=WEEKDAYS.get,
                    selection_mode="multi",
                    key=form.key(f"day{day.number}_copy_to"),
                )
                st.button(
                    "Copy",
                    key=form.key(f"day{day.number}_copy"),
                    type="primary",
                    on_click=_then,
                    args=(editor, form, lambda n=day.number: _copy(editor, form, n)),
                )
            if message := messages().get(f"copy_{day.number}"):
                st.error(message, icon=":material/error:")
    if notice := messages().pop("copied", None):
        st.success(notice, icon=":material/content_copy:")
    field_error(errors, "weekly_hours")


def _time_input(label: str, value: time | None, key: str) -> None:
    """A range's time picker showing the editor's value, which the member can clear (a missing time, refused next to
    the range). Created with `value=None` and its state seeded from the editor when the widget has none yet: a
    picker created with a time would give that time back when cleared (Streamlit returns the default for an empty
    commit), so a cleared end would silently come back."""
    if key not in st.session_state:
        st.session_state[key] = value
    st.time_input(label, value=None, step=STEP, key=key)


def _copy(editor: AvailabilityEditor, form: FormGeneration, source: int) -> None:
    targets = list(st.session_state.get(form.key(f"day{source}_copy_to")) or [])
    problem = editor.copy_day(source, targets)
    for n in WEEKDAYS:
        messages().pop(f"copy_{n}", None)
    if problem:
        messages()[f"copy_{source}"] = problem
        return
    names = [WEEKDAYS[t] for t in sorted(targets) if t != source]
    messages()["copied"] = f"{WEEKDAYS[source]}'s hours copied to {', '.join(names)}."
    form.renew()  # the copied days' switches and ranges are drawn afresh (and the day picker cleared)


# --- date overrides and time off -------------------------------------------------------------------------------


def overrides(editor: AvailabilityEditor, form: FormGeneration, errors: dict[str, str]) -> None:
    st.header("Date overrides")
    st.caption(
        f"A day off, or different hours, on one date; other dates keep the weekly hours. "
        f"{times_caption(editor.timezone)}"
    )
    for o in editor.overrides:
        text, remove = st.columns([5, 2], vertical_alignment="center")
        text.markdown(o.describe())
        remove.button(
            "Remove",
            icon=":material/delete:",
            key=form.key(f"override_{o.id}_remove"),
            help=f"Remove the override on {day_words(o.on_date)}",
            width="stretch",
            on_click=_then,
            args=(editor, form, lambda oid=o.id: editor.remove_override(oid)),
        )
    if not editor.overrides:
        st.caption("No date overrides.")
    with st.container(border=True, key=form.key("override_new")):
        st.date_input(
            "Date", value=None, min_value=today_in(editor.timezone), key=form.key("override_date"), format="YYYY-MM-DD"
        )
        day_off = st.toggle(
            "Day off",
            value=True,
            key=form.key("override_day_off"),
            help="Switch off to give different hours on this date instead.",
        )
        if not day_off:
            start, until = st.columns(2)
            start.time_input("Override from", value=time(9), step=STEP, key=form.key("override_from"))
            until.time_input("Override until", value=time(17), step=STEP, key=form.key("override_until"))
        st.button(
            "Add override",
            icon=":material/event_busy:",
            key=form.key("override_add"),
            on_click=_then,
            args=(editor, form, lambda: _add_override(editor, form)),
        )
        if message := messages().get("override"):
            st.error(message, icon=":material/error:")
    field_error(errors, "overrides")


def _add_override(editor: AvailabilityEditor, form: FormGeneration) -> None:
    state = st.session_state
    day_off = bool(state.get(form.key("override_day_off"), True))
    problem = editor.add_override(
        state.get(form.key("override_date")),
        as_time(state.get(form.key("override_from"), time(9))),
        as_time(state.get(form.key("override_until"), time(17))),
        day_off=day_off,
    )
    if problem:
        messages()["override"] = problem  # the picked date and times stay as they are
        return
    messages().pop("override", None)
    form.renew()  # an empty picker for the next one


def time_off(editor: AvailabilityEditor, form: FormGeneration, errors: dict[str, str]) -> None:
    st.header("Time off")
    st.caption(
        "Whole days when nobody can book you (holidays, conferences). The note is private: colleagues "
        "see only that you are away."
    )
    for t in editor.time_off:
        text, remove = st.columns([5, 2], vertical_alignment="center")
        text.markdown(t.describe() + (f"  \n:small[{plain(t.note)}]" if t.note else ""))
        remove.button(
            "Remove",
            icon=":material/delete:",
            key=form.key(f"time_off_{t.id}_remove"),
            help=f"Remove the time off {t.describe()}",
            width="stretch",
            on_click=_then,
            args=(editor, form, lambda tid=t.id: editor.remove_time_off(tid)),
        )
    if not editor.time_off:
        st.caption("No time off planned.")
    with st.container(border=True, key=form.key("time_off_new")):
        st.date_input(
            "First and last day",
            value=(),
            min_value=today_in(editor.timezone),
            key=form.key("time_off_dates"),
            format="YYYY-MM-DD",
            help="Pick the first day, then the last (the same day twice for one day).",
        )
        st.text_input("Note (private, optional)", max_chars=200, key=form.key("time_off_note"))
        st.button(
            "Add time off",
            icon=":material/beach_access:",
            key=form.key("time_off_add"),
            on_click=_then,
            args=(editor, form, lambda: _add_time_off(editor, form)),
        )
        if message := messages().get("time_off"):
            st.error(message, icon=":material/error:")
    field_error(errors, "time_off")


def _add_time_off(editor: AvailabilityEditor, form: FormGeneration) -> None:
    picked = tuple(st.session_state.get(form.key("time_off_dates")) or ())
    first = picked[0] if picked else None
    last = picked[1] if len(picked) > 1 else None
    problem = editor.add_time_off(first, last, st.session_state.get(form.key("time_off_note")) or "")
    if problem:
        messages()["time_off"] = problem
        return
    messages().pop("time_off", None)
    form.renew()


def unadded(form: FormGeneration) -> dict[str, str]:
    """A date picked in an add box but not added: saving would silently drop it, so the save waits."""
    left: dict[str, str] = {}
    if st.session_state.get(form.key("override_date")) is not None:
        left["override"] = "Press Add override to keep this date (or clear it) before saving."
    if st.session_state.get(form.key("time_off_dates")):
        left["time_off"] = "Press Add time off to keep these days (or clear them) before saving."
    return left


# --- the week colleagues would see --------------------------------------------------------------------------------


def _heading(day: date) -> str:
    return f"{day:%a} {day.day} {day:%b}"


BUSY = "Busy (your calendar)"
TOO_SOON = "Too soon to book (your notice)"


def remember_notice_rule(rule: NoticeRule | None) -> None:
    """The page reads the database's notice rule (portal.consultants.notice_rule); the preview marks by it."""
    st.session_state[NOTICE_RULE] = rule


def _bar_rows(bars: list, shown: str, rule: NoticeRule | None) -> tuple[list[dict], dict[date, str]]:
    """Chart rows for the open hours; what starts before the notice rule allows (today's hours, and more with a long
    notice) is its own kind, "Too soon to book", with a word per day for the list below the chart."""
    cut = rule.bookable_from.astimezone(ZoneInfo(shown)) if rule else None
    cut_day = cut.date() if cut else date.min
    cut_hours = cut.hour + cut.minute / 60 if cut else 0.0
    rows, too_soon = [], {}
    for b in bars:
        row = {"Day": _heading(b.day), "Hours": b.shown, "Your hours": b.home, "Kind": b.source}
        if b.day < cut_day or (b.day == cut_day and b.ends <= cut_hours):
            rows.append({**row, "From": b.starts, "Until": b.ends, "Kind": TOO_SOON})
            too_soon.setdefault(b.day, "all too soon to book")
        elif b.day == cut_day and b.starts < cut_hours:
            rows.append({**row, "From": b.starts, "Until": cut_hours, "Kind": TOO_SOON})
            rows.append({**row, "From": cut_hours, "Until": b.ends})
            too_soon[b.day] = f"too soon to book before {cut:%H:%M}"
        else:
            rows.append({**row, "From": b.starts, "Until": b.ends})
    return rows, too_soon


def _busy_rows(busy: list[dict], shown: str, days: list[date]) -> tuple[list[dict], dict[date, list[str]]]:
    """Chart rows and per-day text for the owner's calendar busy times: when, never why."""
    rows, by_day = [], {}
    for begins, ends in busy_on_clock(busy, shown):
        if begins.date() not in days:
            continue
        until = 24.0 if ends.time() == time.min and ends.date() > begins.date() else ends.hour + ends.minute / 60
        text = f"{begins:%H:%M}–{'24:00' if until == 24 else f'{ends:%H:%M}'}"
        by_day.setdefault(begins.date(), []).append(text)
        rows.append(
            {
                "Day": _heading(begins.date()),
                "From": begins.hour + begins.minute / 60,
                "Until": until,
                "Hours": f"{text} busy",
                "Your hours": "",
                "Kind": BUSY,
            }
        )
    return rows, by_day


def week_preview(editor: AvailabilityEditor, busy: list[dict] | None = None) -> None:
    st.header("Preview: your coming week as colleagues see it")
    if editor.timezone not in known_timezones():
        st.caption("Choose your time zone to see the preview.")
        return
    first = today_in(editor.timezone)
    shown = editor.timezone
    if st.toggle("Show it in another time zone", key="availability_preview_other"):
        zones = sorted(known_timezones())
        picked = st.selectbox(
            "Time zone to show",
            options=zones,
            format_func=timezone_label,
            index=zones.index(PREVIEW_ZONE),
            key="availability_preview_zone",
        )
        shown = picked or editor.timezone
    minutes, notice = editor.settings.get("session_minutes"), editor.settings.get("min_notice_hours")
    rule: NoticeRule | None = st.session_state.get(NOTICE_RULE)
    marked = ""
    if rule:
        cut = rule.bookable_from.astimezone(ZoneInfo(shown))
        marked = (
            f" With your saved notice ({rule.hours} hours), nothing can be booked before {_heading(cut.date())} at "
            f"{cut:%H:%M}: hours before that are marked “{TOO_SOON}”."
        )
    st.caption(
        f"{times_caption(shown, 'Times in the preview')} What you change shows here at once; colleagues "
        f"see it once you save. They book {minutes}-minute sessions inside these hours, at least {notice} "
        f"hours ahead, each in their own zone.{marked}"
    )
    days = editor.shown_days(first, shown)
    headings = [_heading(d) for d in days]
    rows, too_soon = _bar_rows(editor.bars(first, shown), shown, rule)
    busy_rows, busy_by_day = _busy_rows(busy or [], shown, days)
    rows += busy_rows
    frame = pd.DataFrame(rows, columns=["Day", "From", "Until", "Hours", "Your hours", "Kind"]).astype(
        {"Day": str, "From": float, "Until": float, "Hours": str, "Your hours": str, "Kind": str}
    )
    hour_labels = "(datum.value < 10 ? '0' : '') + datum.value + ':00'"
    chart = (
        alt.Chart(frame)
        .mark_bar(cornerRadius=3)
        .encode(
            x=alt.X(
                "Day:N",
                sort=headings,
                scale=alt.Scale(domain=headings),
                title=None,
                axis=alt.Axis(orient="top", labelAngle=0),
            ),
            y=alt.Y(
                "From:Q",
                scale=alt.Scale(domain=[0, 24], reverse=True, nice=False),
                axis=alt.Axis(values=list(range(0, 25, 3)), labelExpr=hour_labels),
                title=zone_words(shown),
            ),
            y2="Until:Q",
            color=alt.Color(
                "Kind:N",
                scale=alt.Scale(
                    domain=[WEEKLY, OVERRIDE, TOO_SOON, BUSY], range=["#2f6f73", "#8a4b08", "#c9c9c9", "#6b6b6b"]
                ),
                # Whole labels (Vega-Lite cuts them at 160 px), one a row: even two a row run off a phone's screen.
                legend=alt.Legend(orient="bottom", title=None, labelLimit=0, columns=1),
            ),
            tooltip=["Day", "Hours", "Your hours", "Kind"],
        )
        .properties(height=360, padding={"left": 5, "top": 5, "bottom": 5, "right": 24})  # the last day's label whole
    )
    st.altair_chart(
        chart, width="stretch", alt=f"Open hours over the coming week, {zone_words(shown)}: listed day by day below."
    )
    notice_words = f" ({rule.hours} hours' notice)" if rule else ""
    lines = [
        f"**{_heading(day)}**: {text}"
        + (f"; {too_soon[day]}{notice_words}" if day in too_soon else "")
        + (f"; busy in your calendar {', '.join(busy_by_day[day])}" if day in busy_by_day else "")
        for day, text in editor.summary(first, shown)
    ]
    st.markdown("  \n".join(lines))
