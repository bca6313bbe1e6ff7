"""Create an account: username, name, email and a strong password.

The form is drawn here (not by streamlit-authenticator's register_user widget) so that each refusal is shown
next to the field it concerns; the authenticator still checks email, username and password and writes the
account through portal.auth.DatabaseUsers. Names follow portal.auth's rules, which accept ordinary names
(O'Brien, Smith-Jones, Zoë, 李) and explain every refusal, instead of the authenticator's bare "is not valid";
usernames follow portal.auth's one username rule (the database's), shown as the field's help and in its refusals.
After an account is created the form starts afresh (a new generation of widget keys, components/formstate), so
nothing typed, the password included, stays in the session; the success message stays.
"""

import streamlit as st
from streamlit_authenticator.utilities import RegisterError

from components import context
from components.errors import database_errors_as_messages
from components.formstate import FormGeneration
from components.registration import refusal_field
from portal.auth import USERNAME_RULES, RegistrationRefused, clean_name, registration_name_problems, username_problem
from portal.passwords import PASSWORD_RULES, PASSWORD_RULES_LIST

st.title("Register")
st.caption("Create your account. Your profile stays private until you choose to offer consultation.")

authenticator = context.authenticator()  # app.py gives it PortalValidator: names follow the rules shown here
form = FormGeneration("register")

errors: dict[str, str] = {}
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
    email = left.text_input("Email", key=form.key("email"), autocomplete="email")
    slots["email"] = left.empty()
    username = right.text_input("Username", key=form.key("username"), autocomplete="username",
                                help=USERNAME_RULES)
    slots["username"] = right.empty()
    left, right = st.columns(2)
    password = left.text_input("Password", type="password", key=form.key("password"), autocomplete="new-password",
                               help=PASSWORD_RULES)
    slots["password"] = left.empty()
    password_repeat = right.text_input("Repeat password", type="password", key=form.key("password_repeat"),
                                       autocomplete="new-password")
    slots["password_repeat"] = right.empty()
    st.markdown("**Your password**  \n" + PASSWORD_RULES_LIST)  # the rules as a readable list, before typing
    submitted = st.form_submit_button("Create account", type="primary", key="register_submit")
form_error = st.empty()

result = None
if submitted:
    st.session_state.pop("register_created", None)  # the last account's message gives way to this attempt
    errors = registration_name_problems(first_name, last_name)
    if problem := username_problem(username):
        errors["username"] = problem
    if not errors:
        with database_errors_as_messages():
            try:
                result = authenticator.authentication_controller.register_user(
                    clean_name(first_name), clean_name(last_name), email, username, password, password_repeat,
                    None)
            except (RegisterError, RegistrationRefused) as exc:
                field, sentence = refusal_field(str(exc))
                errors = {field or "form": sentence}
    for field, sentence in errors.items():
        (slots.get(field) or form_error).error(sentence, icon=":material/error:")

if result and result[1]:
    # A fresh form for whoever registers next: the old keys (and so the password) are not drawn again, and
    # Streamlit drops the state of widgets that are not drawn.
    st.session_state["register_created"] = result[1]
    form.renew()
    st.rerun()
if created := st.session_state.get("register_created"):
    st.success(f"Account **{created}** created. Sign in to complete your profile.", icon=":material/check_circle:")
st.page_link("views/sign_in.py", label="Already registered? Sign in", icon=":material/login:")
