"""Forms whose widgets are created from explicit values.

Writing widget values through st.session_state is lost when the browser's first reruns interrupt
a run (seen on Find and My profile). Instead each widget gets its value from the saved data, and
loading new data starts a new "generation" of widget keys, so the widgets are created afresh.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
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


def edited_frame(base: pd.DataFrame, delta: dict | None) -> pd.DataFrame:
    """The rows of an st.data_editor: its base frame with the widget's edits, deletions and additions."""
    frame = base.copy()
    delta = delta or {}
    for row, changes in (delta.get("edited_rows") or {}).items():
        for column, value in changes.items():
            frame.at[int(row), column] = value
    frame = frame.drop(index=[int(r) for r in delta.get("deleted_rows") or []], errors="ignore")
    added = pd.DataFrame(delta.get("added_rows") or [], columns=base.columns)
    return pd.concat([frame, added], ignore_index=True) if len(added) else frame


def cell_date(value: Any) -> date | None:
    """A data-editor date cell (date, timestamp, string, None, NaN or NaT) as a date or None."""
    if value is None or value is pd.NaT or (isinstance(value, float) and pd.isna(value)):
        return None
    return pd.Timestamp(value).date()
