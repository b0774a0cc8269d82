"""Videos in the chat: accepted types, the upload shown (or its poster frame), timelines and the CSV.

The analysis itself is the agent's ``analyze_video`` tool; this module only shows what it returned
(the history entry's ``videos`` and ``frames``, see ``ui_app.parts.entries``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st

from ui_app.parts import charts

__all__ = [
    "MAX_VIDEO_MB",
    "VIDEO_TYPES",
    "is_video",
    "render_attachment_video",
    "render_video_parts",
]

VIDEO_TYPES = ["mp4", "m4v", "mov", "webm", "mkv", "avi"]
MAX_VIDEO_MB = 200
MAX_TRACKS_CHARTED = 4


def is_video(name: str) -> bool:
    """True for a file name with a video extension."""
    return Path(str(name)).suffix.lower().lstrip(".") in VIDEO_TYPES


def render_attachment_video(video: dict[str, Any], key: str) -> None:
    """The person's video: the player, or its first frame when the browser cannot play the codec."""
    if video.get("video"):
        st.video(video["video"])
        st.caption(video["name"])
    elif video.get("poster"):
        st.image(video["poster"], caption=f"{video['name']} — first frame", width=480)
        st.caption(
            f":material/info: Your browser cannot play this video's format ({video.get('codec') or 'unknown'}), "
            "so its first frame is shown. The video is analysed all the same."
        )
    else:
        st.caption(f":material/movie: {video['name']}")


def render_video_parts(entry: dict[str, Any], index: int) -> None:
    """An answer's video parts: frames taken as photos, a timeline chart per face, the CSV download."""
    for frame in entry.get("frames", []):
        st.image(frame["jpeg"], caption=frame["caption"], width=320)
    for j, video in enumerate(entry.get("videos", [])):
        tracks = video["tracks"]
        for track in tracks[:MAX_TRACKS_CHARTED]:
            who = f"face {track}" if len(tracks) > 1 else "the face"
            st.caption(f"Emotions over time — {video['name']}, {who} (smoothed per step)")
            st.altair_chart(charts.timeline_chart(video["timeline"], video["labels"], track), width="stretch")
        if video.get("csv"):
            st.download_button(
                "Download per-frame CSV",
                data=video["csv"],
                file_name=f"{Path(video['name']).stem or 'video'}_emotions.csv",
                mime="text/csv",
                icon=":material/download:",
                key=f"video_csv_{index}_{j}",
                on_click="ignore",
            )
