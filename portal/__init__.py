"""The Peer Consultation Portal's headless core: no Streamlit import here."""
