"""The Peer Consultation Portal's headless core: no Streamlit import here."""

from portal.refusal import Refusal

__all__ = ["Refusal"]
