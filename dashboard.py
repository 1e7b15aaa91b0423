"""The dashboard's entry script: page setup, navigation over views/, and the shared frame (sidebar, notices, footer).

The page scripts live in views/, not pages/: Streamlit (1.67) still switches to its legacy multipage
mode when a folder named pages/ sits beside the entry script, and then a server's first request for a
page URL (a shared permalink such as /area?area=E06000009) runs that page's script alone, without this
script's navigation and frame. tests/test_browser.py::test_permalink_as_first_request guards this.

Run with `uv run indicators serve` (or `streamlit run dashboard.py` with INDICATORS_DB set).
"""

import streamlit as st

from ui import frame

# The favicon is drawn here (a plain blue square) and served by the app itself: a Material or emoji icon
# would be fetched from a font CDN, and the dashboard makes no third-party requests.
FAVICON = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">'
           '<rect width="32" height="32" rx="6" fill="#1a64a8"/></svg>')

st.set_page_config(page_title="Drug treatment: the postcode lottery", page_icon=FAVICON, layout="wide")

PAGES = [
    st.Page("views/map.py", title="Map", icon=":material/map:", default=True),
    st.Page("views/lottery.py", title="Postcode lottery", icon=":material/balance:", url_path="lottery"),
    st.Page("views/area.py", title="Area profile", icon=":material/location_on:", url_path="area"),
    st.Page("views/compare.py", title="Compare areas", icon=":material/leaderboard:", url_path="compare"),
    st.Page("views/availability.py", title="Data availability", icon=":material/grid_view:",
            url_path="availability"),
    st.Page("views/about.py", title="About the data", icon=":material/info:", url_path="about"),
]

page = st.navigation(PAGES)
context = frame.start()
if context is not None:
    page.run()
frame.finish(context)
