"""Other members' text is shown as text: no images, no links, no markup (issue 16, item 11)."""

from __future__ import annotations

import re

from portal.db import SERVICE, Claims
from portal.plain_text import plain
from portal.requests import request_consultation

TRACKER = "![seen](https://tracker.example/pixel.png?who=you)"
# Markdown constructs that would render as something other than the characters typed.
UNESCAPED = re.compile(r"(?<!\\)(!\[|\]\(|<[a-z/]|https?://|www\.|:[a-z]+\[|\*\*|`)")


def test_plain_leaves_no_image_link_or_markup_to_render():
    for text in (
        TRACKER,
        "[click](javascript:alert(1))",
        "<img src=x onerror=alert(1)>",
        "see www.evil.example",
        "http://bare.example/x",
        ":red[alarm] :material/warning: **loud** `code` $x^2$",
    ):
        escaped = plain(text)
        assert not UNESCAPED.search(escaped), escaped
        # Every character typed is still there, in order (beside invisible word joiners).
        assert escaped.replace("\\", "").replace("\u2060", "") == text.replace("\\", "")
    assert plain("two\nlines") == "two  \nlines" and plain(None) == "" and plain("Zoë O") == "Zoë O"


def test_a_request_message_with_a_tracking_pixel_reaches_the_inbox_as_text(backend, embedded_db):
    from tests.test_app import PAGES, app, make_account, make_consultant, no_exceptions

    consultant_username, consultant_id = make_consultant(backend, embedded_db)
    seeker_id = backend.rpc("auth_get_login", {"p_username": make_account(backend)}, as_user=SERVICE)["id"]
    request_consultation(backend, Claims.user(seeker_id), consultant_id, [], f"Hello {TRACKER} there")
    inbox = app(consultant_username).run()
    inbox.switch_page(PAGES["requests"]).run()
    no_exceptions(inbox)
    shown = [m.value for m in inbox.markdown if "Hello" in m.value]
    assert shown and all(not UNESCAPED.search(m) for m in shown), shown
    assert any(r"\!\[seen\]\(https\:\/\/tracker\.example" in m.replace("\u2060", "") for m in shown)


def test_in_chromium_the_escaped_text_shows_no_image_link_or_markup(tmp_path):
    """What the browser draws, not only the Markdown source: the escaped line has no <img>, <a>, bold or colour."""
    import subprocess
    import sys
    import time
    import urllib.request

    import pytest

    from tests.app_server import REPO, chromium_browser, free_port

    script = tmp_path / "show.py"
    text = f"Hi {TRACKER} [link](http://x.example) www.evil.example mail@me.example :red[alarm] **loud** <b>b</b>"
    script.write_text(
        f"import sys\nsys.path.insert(0, {str(REPO)!r})\nimport streamlit as st\n"
        f"from portal.plain_text import plain\ntext = {text!r}\n"
        "st.markdown('> ' + plain(text))\nst.markdown('raw: ' + text)\n"
    )
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(script),
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(
                    f"http://127.0.0.1:{port}/_stcore/health", timeout=2
                ) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("the Streamlit script never became healthy")
            time.sleep(0.25)
        with chromium_browser() as chromium:
            page = chromium.new_page()
            page.goto(f"http://127.0.0.1:{port}")
            blocks = page.locator('[data-testid="stMarkdownContainer"]')
            blocks.nth(1).wait_for(timeout=45_000)
            escaped, raw = blocks.nth(0), blocks.nth(1)
            counts = {tag: (escaped.locator(tag).count(), raw.locator(tag).count()) for tag in ("img", "a", "strong")}
            # The raw line proves the browser would have drawn them; the escaped one draws none.
            assert [mine for mine, _ in counts.values()] == [0, 0, 0], counts
            assert counts["img"][1] == 1 and counts["a"][1] >= 2 and counts["strong"][1] == 1, counts
            shown = escaped.inner_text().replace("\u2060", "")
            assert TRACKER in shown and ":red[alarm]" in shown and "mail@me.example" in shown
    finally:
        server.terminate()
        server.wait(30)
