"""Opening the app at an address, as a browser's first load does, in AppTest.

A browser that opens /sign-in sends the page's *name* from its address bar ("sign-in"), and Streamlit matches it
against the registered pages' url_pathname; a page link sends a page's hash instead, which is what AppTest's
switch_page does. A default page's url_pathname is "" (it answers to "/" only), so an address naming it reads
"Page not found" in a browser and not in switch_page. `at_address` runs AppTest with the name, and records every
"Page not found" Streamlit sends (streamlit.commands.navigation.send_page_not_found), so a test sees what the
browser would show."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit.commands.navigation as navigation
import streamlit.testing.v1.local_script_runner as local_script_runner
from streamlit.testing.v1 import AppTest


@contextmanager
def page_not_found_recorded() -> Iterator[list[str]]:
    """Every "Page not found" sent while the block runs, by the page name asked for."""
    original = navigation.send_page_not_found
    sent: list[str] = []

    def record(ctx) -> None:
        sent.append(ctx.pages_manager.intended_page_name or "")
        original(ctx)

    navigation.send_page_not_found = record
    try:
        yield sent
    finally:
        navigation.send_page_not_found = original


def at_address(at: AppTest, address: str, query: dict[str, str] | None = None) -> list[str]:
    """Run `at` (a fresh AppTest, signed in or not) as a browser opening <base>/<address>?<query>; returns the
    "Page not found" answers it got (none when the address opens a page)."""
    original = local_script_runner.RerunData
    local_script_runner.RerunData = functools.partial(original, page_name=address)
    at.query_params.update(query or {})
    try:
        with page_not_found_recorded() as sent:
            at.run()
    finally:
        local_script_runner.RerunData = original
    return sent
