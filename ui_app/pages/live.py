"""The Live page: the camera analysed as it streams, with the status and the send button beside it.

A thin shell over ``tools.live.LiveAnalyzer`` (boxes, labels and bars drawn in the emotion colours
of ``tools.palette``). The video sits on the left; the status line (the emotion and the rate,
refreshed every second), the heatmap switch and "Send this frame to the chat" on the right, so a
laptop screen (1366x768) shows them all without scrolling. Frames stay in this process's memory.

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
from typing import Any

import streamlit as st

from tools.errors import FaceAgentError
from tools.labels import display_name
from tools.palette import emotion_hex

__all__ = ["ice_servers", "live_page"]

LOG = logging.getLogger("face_agent.ui")


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
    from ui_app import PAGES

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


def _chip(label: str) -> str:
    """The emotion's colour as a dot before its name (the colour of its box on the video)."""
    return f'<span style="color:{emotion_hex(label)}">&#9679;</span>'


def _status(analyzer: Any, playing: bool) -> None:
    snap = analyzer.snapshot()
    if not playing:
        st.info("Press START to analyse the camera. Nothing is recorded.", icon=":material/videocam:")
        return
    if not snap.faces:
        st.markdown(f"**Live** · {snap.fps:.1f} frames/s · no face in view")
        return
    faces = " · ".join(
        f"face {f['track']}: {_chip(f['label'])} **{display_name(f['label'])}** ({f['confidence']:.0%})"
        for f in snap.faces
    )
    st.markdown(f"**Live** · {snap.fps:.1f} frames/s · {faces}", unsafe_allow_html=True)
    if snap.heatmap_label:
        st.caption(
            f"Heatmap: where the model looks for *{display_name(snap.heatmap_label)}* (updated about once a second)."
        )


def live_page() -> None:
    """The Live page: the camera with the readings drawn on it; status, heatmap switch and send-to-chat beside it."""
    from streamlit_webrtc import WebRtcMode, webrtc_streamer

    st.header(":material/videocam: Live", divider=False)
    st.caption(
        "Your camera, analysed as it streams: a box, the smoothed emotion and its bars on every face, in the "
        "emotion's colour. Frames are processed in this app's memory and never saved."
    )
    try:
        analyzer = _analyzer()
    except FaceAgentError as exc:  # e.g. the chat's checkpoint cannot be loaded
        st.error(f"The emotion model could not be loaded: {exc}")
        st.stop()
    video, side = st.columns([3, 2], gap="medium")
    with video:
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
    with side:

        @st.fragment(run_every=1.0)
        def status() -> None:
            _status(analyzer, playing)

        status()
        if st.button(
            "Send this frame to the chat", icon=":material/send:", disabled=not playing, width="stretch"
        ):
            _send_frame(analyzer)
        analyzer.heatmap = st.toggle(
            "Heatmap overlay (about once a second)", key="live_heatmap", value=analyzer.heatmap
        )
