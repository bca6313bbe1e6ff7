"""Create an account: username, name, email and a strong password."""

import streamlit as st
from streamlit_authenticator.utilities import RegisterError

from components import context
from components.errors import database_errors_as_messages
from portal.auth import RegistrationRefused

st.title("Register")
st.caption("Create your account. Your profile stays private until you choose to offer consultation.")

authenticator = context.authenticator()
with database_errors_as_messages():
    try:
        result = authenticator.register_user(
            location="main",
            captcha=False,
            password_hint=False,
            key="register_form",
            fields={"Form name": "Create your account", "First name": "First name",
                    "Last name": "Last name", "Email": "Email", "Username": "Username",
                    "Password": "Password", "Repeat password": "Repeat password",
                    "Register": "Create account"},
        )
    except (RegisterError, RegistrationRefused) as exc:
        st.error(str(exc).replace("\n\n", " ").strip(), icon=":material/error:")
        result = None

if result and result[1]:
    st.success(f"Account **{result[1]}** created. Sign in to complete your profile.",
               icon=":material/check_circle:")
st.page_link("views/sign_in.py", label="Already registered? Sign in", icon=":material/login:")
