"""Create an account: username, name, email and a password — finished from a link sent to the email.

The page answers one sentence whatever became of the address (portal.account_links): a new address gets a
link that creates the account when opened; an address that has an account gets "someone tried to register
with your email". So the page never tells anyone whether a colleague's address is registered. A username
already taken is still refused next to its field: usernames are not the secret. Each refusal is shown next to
the field it concerns, with the portal's rules for names (O'Brien, Zoë, 李), usernames and passwords. After a
request the form starts afresh (a new generation of widget keys, components/formstate), so nothing typed, the
password included, stays in the session; the answer stays.
"""

import streamlit as st

from components import context
from components.addresses import home_with_a_note
from components.errors import database_errors_as_messages
from components.formstate import FormGeneration
from components.mail_sender import local_mail_settings
from components.registration import registration_client
from portal.account_links import registration_problems, request_registration
from portal.auth import USERNAME_RULES
from portal.passwords import PASSWORD_RULES, PASSWORD_RULES_LIST
from portal.refusal import Refusal

home_with_a_note("registered")  # a member opening /register has an account: home, saying so
st.title("Register")
st.caption("Create your account. Your profile stays private until you choose to offer consultation.")

form = FormGeneration("register")

slots = {}
with st.form(f"register_form_{form.generation}", border=True):
    st.header("Create your account")
    # One row of columns per pair, so that a message under one field pushes the next pair down evenly.
    left, right = st.columns(2)
    first_name = left.text_input("First name", key=form.key("first_name"), autocomplete="given-name")
    slots["first_name"] = left.empty()
    last_name = right.text_input("Last name", key=form.key("last_name"), autocomplete="family-name")
    slots["last_name"] = right.empty()
    left, right = st.columns(2)
    email = left.text_input(
        "Email",
        key=form.key("email"),
        autocomplete="email",
        help="We send a link to this address; your account is created when you open it.",
    )
    slots["email"] = left.empty()
    username = right.text_input("Username", key=form.key("username"), autocomplete="username", help=USERNAME_RULES)
    slots["username"] = right.empty()
    left, right = st.columns(2)
    password = left.text_input(
        "Password", type="password", key=form.key("password"), autocomplete="new-password", help=PASSWORD_RULES
    )
    slots["password"] = left.empty()
    password_repeat = right.text_input(
        "Repeat password", type="password", key=form.key("password_repeat"), autocomplete="new-password"
    )
    slots["password_repeat"] = right.empty()
    st.markdown("**Your password**  \n" + PASSWORD_RULES_LIST)  # the rules as a readable list, before typing
    submitted = st.form_submit_button("Create account", type="primary", key="register_submit")
form_error = st.empty()

if submitted:
    st.session_state.pop("register_answer", None)  # the last request's answer gives way to this attempt
    errors = registration_problems(first_name, last_name, email, username, password, password_repeat)
    if not errors:
        with database_errors_as_messages():
            try:
                answer = request_registration(
                    context.backend(), first_name, last_name, email, username, password, client=registration_client()
                )
            except Refusal as exc:
                errors = {exc.field or "form": exc.message}  # next to the field it names, if the form has it
            else:
                # A fresh form for whoever registers next: the old keys (and so the password) are not drawn again.
                st.session_state["register_answer"] = answer
                form.renew()
                st.rerun()
    for field, sentence in errors.items():
        (slots.get(field) or form_error).error(sentence, icon=":material/error:")

if answer := st.session_state.get("register_answer"):
    st.success(answer, icon=":material/mark_email_unread:")
    if context.settings().backend == "local" and not local_mail_settings(context.settings()).smtp_host:
        st.info(
            "This portal runs in local mode and sends no email: messages are kept in the mailbox folder of "
            "its data directory (`.data/mailbox/`), readable only on this machine by the account running the "
            "portal (`python -m portal.local_mailbox` lists them).",
            icon=":material/inbox:",
        )
st.page_link("views/sign_in.py", label="Already registered? Sign in", icon=":material/login:")
