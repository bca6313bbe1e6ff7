"""Settings the portal refuses to run with, and the local cookie key kept private (issue 16, item 9)."""

from __future__ import annotations

import stat

import pytest

from portal.config import ConfigurationError, Settings


@pytest.mark.parametrize("key", ["short-key", "<long random string>", "  " + "x" * 31 + "  ", "<" + "a" * 40 + ">"])
def test_a_short_or_placeholder_cookie_key_is_refused_with_a_sentence(key):
    settings = Settings.load({"PORTAL_COOKIE_KEY": key, "PORTAL_BACKEND": "supabase"})
    with pytest.raises(ConfigurationError) as refused:
        settings.resolved_cookie_key()
    assert "at least 32 bytes" in str(refused.value) and "secrets.token_urlsafe" in str(refused.value)


def test_a_long_random_cookie_key_is_used_as_given():
    key = "k" * 16 + "Q7-" * 8
    assert Settings.load({"PORTAL_COOKIE_KEY": key}).resolved_cookie_key() == key


def test_the_generated_local_key_is_readable_by_its_owner_alone_and_kept(tmp_path, monkeypatch):
    monkeypatch.delenv("PORTAL_COOKIE_KEY", raising=False)
    monkeypatch.setenv("PORTAL_DATA_DIR", str(tmp_path / "data"))
    settings = Settings.load({"PORTAL_BACKEND": "local"})
    first = settings.resolved_cookie_key()
    mode = stat.S_IMODE((tmp_path / "data" / "cookie_key").stat().st_mode)
    assert mode == 0o600 and len(first) >= 32
    assert settings.resolved_cookie_key() == first


def test_the_app_refuses_to_start_with_a_placeholder_key(monkeypatch, backend):
    from tests.page_support import app, no_exceptions, texts

    monkeypatch.setenv("PORTAL_COOKIE_KEY", "<long random string>")
    at = app().run()
    no_exceptions(at)
    assert any("PORTAL_COOKIE_KEY must be a random string of at least 32 bytes" in e for e in texts(at, "error"))
    assert not at.text_input  # no sign-in form behind it
