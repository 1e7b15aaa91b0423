"""What users and pages get: read-only queries, downloads, local data and the availability matrix. Never imports Streamlit."""
