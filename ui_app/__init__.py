"""The Streamlit app behind ``ui.py``: pages (``pages/``: chat, live) and the parts they share
(``parts/``: sidebar, session, turns, entries, rendering, charts, video, media).

``ui.py`` is the entry (``streamlit run ui.py``): page set-up and navigation only. Imports flow one
way: pages -> parts -> ``agent`` / ``tools``; the parts that hold no widgets (``turns``,
``entries``, ``media``) import no Streamlit page state and are tested as plain Python.
"""

from typing import Any

PAGES: dict[str, Any] = {}  # this run's st.Page objects by name ("chat", "live"), set by ui.main
