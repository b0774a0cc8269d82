"""The Live page: the camera analysed as it streams (``ui_video.live_page``); listed by ``ui.main``."""

import ui_video

ui_video.live_page()
