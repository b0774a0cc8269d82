"""The app's video parts: video uploads in the chat (timeline chart, summary, CSV) and the Live page.

``ui.py`` calls into this module at a few marked spots; the Live page (``app_pages/live.py``) is
``live_page()``. Like the rest of the app it is a thin shell: the analysis is ``agent.ChatSession``'s
``analyze_video`` tool, the live pipeline is ``tools.live.LiveAnalyzer``. Videos and camera frames
stay in this process's memory.

WebRTC: the browser sends the camera to this server and gets the annotated frames back. On
localhost no STUN/TURN server is needed, so none is configured (the app works offline). A remote
deployment (the browser on another network than the server) needs ICE servers: set
``FACE_AGENT_ICE_SERVERS`` to their JSON list, e.g.
``[{"urls": ["stun:stun.example.org:3478"]}, {"urls": ["turn:turn.example.org:3478"], "username": "u", "credential": "p"}]``.
"""

from __future__ import annotations

import io
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st

from tools.errors import FaceAgentError

__all__ = [
    "VIDEO_TYPES",
    "PAGES",
    "add_video",
    "carry_videos",
    "ice_servers",
    "is_video",
    "live_page",
    "render_video_parts",
    "take_live_frames",
    "video_parts",
]

LOG = logging.getLogger("face_agent.ui")
VIDEO_TYPES = ["mp4", "m4v", "mov", "webm", "mkv", "avi"]
MAX_VIDEO_MB = 200
GOT_VIDEO = (
    "Got the video. Ask what happens in it, how the mood changes, when she is happiest, for the timeline, "
    'or about one moment ("explain the frame at 0:05").'
)
PAGES: dict[str, Any] = {}  # st.Page objects of this run, set by ui.main (for switch_page)


def is_video(name: str) -> bool:
    """True for a file name with a video extension."""
    return Path(str(name)).suffix.lower().lstrip(".") in VIDEO_TYPES


# --- the chat --------------------------------------------------------------------------------------


def add_video(session: Any, data: bytes, name: str, text: str, append: Any) -> bool:
    """Gives a video to the agent and shows it as the person's message; an error entry if refused.

    Args:
        append: ``ui._append`` (adds and draws a history entry).

    Returns:
        True when the agent accepted the video.
    """
    try:
        video_id = session.add_video(data, name)
    except FaceAgentError as exc:
        append({"role": "user", "text": text or f":material/movie: {name}"})
        append({"role": "assistant", "error": f"I could not use {name}: {exc}"})
        return False
    st.session_state.setdefault("videos", {})[video_id] = {"name": name, "bytes": data}
    append({"role": "user", "text": text, "video": data, "video_name": name})
    return True


def carry_videos(session: Any) -> None:
    """Adds the browser session's videos to a new agent session (the settings changed)."""
    for video in st.session_state.get("videos", {}).values():
        try:
            session.add_video(video["bytes"], video["name"])
        except FaceAgentError:
            LOG.warning("could not carry video %s into the new session", video["name"])


def video_parts(reply: Any) -> dict[str, Any]:
    """History-entry fields (plain types) for the video tools' results of a reply."""
    videos, frames = [], []
    for result in getattr(reply, "results", None) or []:
        artifact = getattr(result, "artifact", None)
        if not isinstance(artifact, dict) or "error" in artifact:
            continue
        if result.tool == "analyze_video" and artifact.get("timeline") is not None:
            videos.append(
                {
                    "name": artifact.get("name", "video"),
                    "labels": list(artifact.get("labels") or []),
                    "timeline": artifact["timeline"],
                    "csv": artifact.get("csv", ""),
                    "tracks": [t["track"] for t in (artifact.get("summary") or {}).get("tracks", [])],
                }
            )
        elif result.tool == "video_frame" and artifact.get("frame_jpeg"):
            frames.append({"jpeg": artifact["frame_jpeg"], "caption": artifact.get("name", "frame")})
    return {"videos": videos, "frames": frames} if videos or frames else {}


def _timeline_chart(video: dict[str, Any], track: int) -> Any:
    import altair as alt
    import pandas as pd

    from tools.labels import display_name

    rows = [
        {"time (s)": r["start"], "emotion": display_name(k), "probability": p}
        for r in video["timeline"]
        if r["track"] == track
        for k, p in r["probs"].items()
    ]
    frame = pd.DataFrame(rows)
    return (
        alt.Chart(frame)
        .mark_line(interpolate="monotone")
        .encode(
            x=alt.X("time (s):Q"),
            y=alt.Y("probability:Q", scale=alt.Scale(domain=[0, 1])),
            color=alt.Color("emotion:N", sort=[display_name(k) for k in video["labels"]]),
            tooltip=["time (s):Q", "emotion:N", alt.Tooltip("probability:Q", format=".0%")],
        )
        .properties(height=220)
    )


def render_video_parts(entry: dict[str, Any], index: int) -> None:
    """Draws an entry's video (the upload), timeline charts, CSV download and frames taken as photos."""
    if entry.get("video"):
        st.video(entry["video"])
        if entry.get("video_name"):
            st.caption(entry["video_name"])
    for frame in entry.get("frames", []):
        st.image(frame["jpeg"], caption=frame["caption"], width=320)
    for j, video in enumerate(entry.get("videos", [])):
        tracks = video["tracks"] or sorted({r["track"] for r in video["timeline"]})
        for track in tracks[:4]:
            label = f"face {track}" if len(tracks) > 1 else "the face"
            st.caption(f"Emotions over time — {video['name']}, {label} (smoothed per step)")
            st.altair_chart(_timeline_chart(video, track), width="stretch")
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


@dataclass
class _LiveFrame:
    """A camera frame sent from the Live page, shaped like an upload for ``ui.handle_input``."""

    name: str
    data: bytes
    file_id: str

    def getvalue(self) -> bytes:
        return self.data


def take_live_frames() -> list[_LiveFrame]:
    """Frames the Live page sent to the chat since the last run (each handed over once)."""
    return [_LiveFrame(**f) for f in st.session_state.pop("live_frames", [])]


# --- the Live page ---------------------------------------------------------------------------------


def ice_servers() -> list[dict[str, Any]]:
    """ICE servers for WebRTC: none by default (localhost needs none); ``FACE_AGENT_ICE_SERVERS`` for
    a remote deployment (a JSON list of ``{"urls": [...], "username"?, "credential"?}``)."""
    raw = os.environ.get("FACE_AGENT_ICE_SERVERS", "").strip()
    if not raw:
        return []
    try:
        servers = json.loads(raw)
    except json.JSONDecodeError:
        LOG.warning("FACE_AGENT_ICE_SERVERS is not JSON; using no ICE servers")
        return []
    return servers if isinstance(servers, list) else []


def _analyzer() -> Any:
    """The browser session's LiveAnalyzer, over the chat's classifier."""
    from tools.classifier import default_classifier
    from tools.live import LiveAnalyzer

    path = (st.session_state.get("chat_settings") or {}).get("classifier")
    state = st.session_state
    if state.get("live_analyzer") is None or state.get("live_model") != path:
        state["live_analyzer"], state["live_model"] = LiveAnalyzer(default_classifier(path)), path
    return state["live_analyzer"]


def _jpeg(rgb: Any) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=92)
    return buffer.getvalue()


def _send_frame(analyzer: Any) -> None:
    frame = analyzer.latest_frame()
    if frame is None:
        st.warning("No camera frame yet: press START and allow the camera first.")
        return
    count = st.session_state.get("live_sent", 0) + 1
    st.session_state["live_sent"] = count
    st.session_state.setdefault("live_frames", []).append(
        {"name": f"camera frame {count}.jpg", "data": _jpeg(frame), "file_id": f"live-{count}"}
    )
    if "chat" in PAGES:
        st.switch_page(PAGES["chat"])
    st.success("Frame sent: open the Chat page to ask about it.")


def _status(analyzer: Any, playing: bool) -> None:
    from tools.labels import display_name

    snap = analyzer.snapshot()
    if not playing:
        st.info("Press START to analyse the camera. Nothing is recorded.", icon=":material/videocam:")
        return
    if not snap.faces:
        st.markdown(f"**Live** · {snap.fps:.1f} frames/s · no face in view")
        return
    faces = " · ".join(
        f"face {f['track']}: **{display_name(f['label'])}** ({f['confidence']:.0%})" for f in snap.faces
    )
    st.markdown(f"**Live** · {snap.fps:.1f} frames/s · {faces}")
    if snap.heatmap_label:
        st.caption(
            f"Heatmap: where the model looks for *{display_name(snap.heatmap_label)}* (updated about once a second)."
        )


def live_page() -> None:
    """The Live page: the camera with the readings drawn on it, a heatmap option, send-to-chat."""
    from streamlit_webrtc import WebRtcMode, webrtc_streamer

    st.title(":material/videocam: Live")
    st.caption(
        "Your camera, analysed as it streams: a box, the smoothed emotion and its bars on every face. "
        "Frames are processed in this app's memory and never saved."
    )
    try:
        analyzer = _analyzer()
    except FaceAgentError as exc:  # e.g. the chat's checkpoint cannot be loaded
        st.error(f"The emotion model could not be loaded: {exc}")
        st.stop()
    analyzer.heatmap = st.toggle(
        "Heatmap overlay (about once a second)", key="live_heatmap", value=analyzer.heatmap
    )
    context = webrtc_streamer(
        key="live",
        mode=WebRtcMode.SENDRECV,
        rtc_configuration={"iceServers": ice_servers()},
        media_stream_constraints={"video": {"width": 640, "height": 480}, "audio": False},
        video_frame_callback=analyzer.callback,
        async_processing=True,
    )
    playing = bool(context.state.playing)
    if not playing and analyzer.snapshot().frames:
        analyzer.reset()  # a new start begins with fresh tracks

    @st.fragment(run_every=1.0)
    def status() -> None:
        _status(analyzer, playing)

    status()
    if st.button("Send this frame to the chat", icon=":material/send:", disabled=not playing):
        _send_frame(analyzer)
