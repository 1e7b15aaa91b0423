"""Presentation: words, URL state, SVG map and charts, HTML tables and Plotly figures made from query results. Never imports Streamlit."""
