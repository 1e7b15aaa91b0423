"""The data's path: official files -> raw cache (fetch) -> staged (sources) -> published (geography, peers, build, checks). Never imports Streamlit."""
