"""Reusable Streamlit rendering and per-session glue (no SQL here)."""
