"""Passwords people actually use (#13): 8 to 64 characters of anything, spaces and accents included,
checked against a list of common passwords rather than composition rules (NIST SP 800-63B)."""

from __future__ import annotations

import pytest

from components.registration import PortalValidator, refusal_field
from portal.passwords import MAX_LENGTH, MIN_LENGTH, PASSWORD_RULES, password_problem


@pytest.mark.parametrize(
    "password",
    [
        "correct horse battery staple",  # a passphrase with spaces (the authenticator refused it)
        "Zoë mange des crêpes à Montréal",  # accents
        "x" * 7 + "Q",  # eight characters, no digit, no symbol
        "a1" * 32,  # 64 characters (the authenticator's maximum was 20)
    ],
)
def test_passwords_people_use_are_accepted(password):
    assert password_problem(password) is None
    assert PortalValidator().validate_password(password)


@pytest.mark.parametrize(
    "password,words",
    [
        ("", "Enter a password"),
        ("short", f"at least {MIN_LENGTH} characters (this one has 5)"),
        ("x" * (MAX_LENGTH + 1), f"at most {MAX_LENGTH} characters"),
        ("é" * 40, "more than 72 bytes"),
        ("password1", "passwords people use most"),
        ("Qwerty123", "passwords people use most"),
        ("iloveyou", "passwords people use most"),
    ],
)
def test_weak_or_unusable_passwords_are_refused_with_a_sentence(password, words):
    problem = password_problem(password)
    assert problem and words in problem
    assert not PortalValidator().validate_password(password)


def test_the_authenticators_refusal_reads_as_the_portals_rules():
    field, sentence = refusal_field("**Password must be:**\n\n- Between 8 and 20 characters long.")
    assert field == "password" and sentence == PASSWORD_RULES
    assert "No other rules" in sentence and "64" in sentence
