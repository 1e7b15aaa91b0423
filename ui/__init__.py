"""The Streamlit side of the dashboard shared by dashboard.py and pages/: cached warehouse access and the page frame; depends on streamlit and indicators."""
