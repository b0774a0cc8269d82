"""The Streamlit entry: ``make run`` (``streamlit run ui.py``). Page set-up and navigation only.

The pages and the parts they share live in ``ui_app/``: *Chat* (``ui_app.pages.chat``: photos and
videos, questions answered by ``agent.ChatSession`` turn by turn) and *Live*
(``ui_app.pages.live``: the camera analysed as it streams).
"""

from __future__ import annotations

import streamlit as st
from PIL import Image, ImageDraw

from ui_app import PAGES
from ui_app.pages.chat import chat_page
from ui_app.pages.live import live_page
from ui_app.parts.session import serving_threads

__all__ = ["favicon", "main"]


def favicon() -> Image.Image:
    """A smiling face drawn here: the app serves it itself (a named icon is fetched from Google's CDN)."""
    icon = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    draw = ImageDraw.Draw(icon)
    draw.ellipse((2, 2, 61, 61), fill=(255, 196, 38), outline=(120, 80, 0), width=3)
    draw.ellipse((19, 20, 26, 30), fill=(60, 40, 0))
    draw.ellipse((38, 20, 45, 30), fill=(60, 40, 0))
    draw.arc((16, 22, 48, 50), start=20, end=160, fill=(60, 40, 0), width=4)
    return icon


def main() -> None:
    """The app: the chat page and the Live page (``st.navigation``)."""
    st.set_page_config(page_title="Facial emotion agent", page_icon=favicon(), layout="wide")
    serving_threads()
    chat = st.Page(chat_page, title="Chat", icon=":material/chat:", default=True, url_path="chat")
    live = st.Page(live_page, title="Live", icon=":material/videocam:", url_path="live")
    PAGES.update(chat=chat, live=live)
    st.navigation([chat, live]).run()


if __name__ == "__main__":  # `streamlit run` and AppTest run the file as __main__
    main()
