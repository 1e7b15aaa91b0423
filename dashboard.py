"""The dashboard's entry script: page setup, navigation over pages/ (ui.nav), and the shared frame (sidebar, notices, footer).

Streamlit (1.67) still starts in its legacy multipage mode when a folder named pages/ sits beside the
entry script: a fresh server's first request for a page URL (a shared permalink such as
/area?area=E06000009) runs pages/area.py on its own, as __main__. Each page module therefore only
defines `render()` and ends with a guard that hands over to `main()` here; st.navigation then takes
over for the rest of the server's life. tests/test_browser.py::test_permalink_as_first_request guards this.

Run with `uv run indicators serve` (or `streamlit run dashboard.py` with INDICATORS_DB set).
"""

import streamlit as st

from ui import frame, nav

# The favicon is drawn here (a plain blue square) and served by the app itself: a Material or emoji icon
# would be fetched from a font CDN, and the dashboard makes no third-party requests.
FAVICON = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">'
           '<rect width="32" height="32" rx="6" fill="#1a64a8"/></svg>')


def main() -> None:
    st.set_page_config(page_title="Drug treatment: the postcode lottery", page_icon=FAVICON, layout="wide")
    page = st.navigation(nav.pages(), position="hidden")  # the sidebar's menu is ui.nav.links
    context = frame.start()
    if context is not None:
        page.run()
    frame.finish(context, page.url_path or nav.HOME)
    nav.links(context)


if __name__ == "__main__":
    main()
