"""Forms whose widgets are created from explicit values.

Writing widget values through st.session_state is lost when the browser's first reruns interrupt
a run (seen on Find and My profile). Instead each widget gets its value from the saved data, and
loading new data starts a new "generation" of widget keys, so the widgets are created afresh.
"""

from __future__ import annotations

from typing import Any

import streamlit as st


class FormGeneration:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.generation = st.session_state.setdefault(f"{prefix}_generation", 0)

    def key(self, name: str) -> str:
        base = f"{self.prefix}_{name}"
        return base if self.generation == 0 else f"{base}_g{self.generation}"

    def value(self, name: str, default: Any = None) -> Any:
        return st.session_state.get(self.key(name), default)

    def renew(self) -> None:
        """Draw the widgets again from their values on the next run."""
        st.session_state[f"{self.prefix}_generation"] = self.generation + 1
