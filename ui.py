"""Streamlit chat: upload a face photo and talk about it. A thin shell over ``agent.ChatSession``.

Run it with ``make run`` (``.venv/bin/python -m streamlit run ui.py``). Everything the app shows comes
from one ``ChatSession.send`` call per turn; this file only collects input, keeps the visible history
and draws the results (text, the photo, a probability chart, the heatmap beside the face).

State: ``st.session_state`` holds one ``ChatSession`` per browser session and the visible history as a
list of plain dicts, re-rendered on every rerun. Models load once per process (``st.cache_resource``)
and are shared by all sessions. Photos stay in this process's memory; nothing is written to disk.
"""

from __future__ import annotations

import io
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import streamlit as st
from PIL import Image

import ui_video  # video (issue 14): video uploads in the chat and the Live page
from tools.errors import FaceAgentError, InvalidRequestError
from tools.images import MAX_BYTES, load_image
from tools.labels import display_name
from tools.models.builtin import BUILTIN_MODELS

__all__ = [
    "AppSettings",
    "EXAMPLE_PROMPTS",
    "IMAGE_TYPES",
    "add_photo",
    "answer",
    "build_session",
    "clear_chat",
    "ensure_session",
    "find_checkpoints",
    "handle_input",
    "load_classifier",
    "load_qa",
    "main",
    "chat_page",
    "render_entry",
    "reply_entry",
    "settings_sidebar",
]

LOG = logging.getLogger("face_agent.ui")
ROOT = Path(__file__).resolve().parent
IMAGE_TYPES = ["jpg", "jpeg", "png", "webp", "gif", "bmp", "tif", "tiff"]
MAX_UPLOAD_MB = MAX_BYTES // 2**20
DISPLAY_SIDE = 1024  # photos kept for display are shrunk to this; the agent gets the original
THUMB_WIDTH = 200
CHART_ROW = 26  # px per emotion in the probability chart
REGION_NAMES = {"cheeks_jaw": "cheeks & jaw", "other": "outside the face"}
# Material icons ship with Streamlit; emoji would need a colour-emoji font on the viewer's machine.
AVATARS = {"user": ":material/person:", "assistant": ":material/sentiment_satisfied:"}
EXAMPLE_PROMPTS = (
    "What emotion is this?",
    "Why did you predict that?",
    "Is the mouth open?",
    "Describe the face.",
)
OFFLINE, OLLAMA, OPENAI = "Offline planner", "Ollama", "OpenAI-compatible"
FROM_ENV = "From FACE_AGENT_CHAT_MODEL"
DEFAULT_CLASSIFIER = "Default (face-api.js FaceExpressionNet)"
OTHER_PATH = "Another folder…"
GEOMETRY, BLIP = "Geometry (landmarks)", "BLIP-VQA"
GUIDANCE = (
    "Add a photo of a face — attach it with the + in the chat box, drop it in the sidebar, or take one with "
    "the camera — then ask what it shows, why, or what the eyes and mouth are doing."
)
GOT_PHOTO = "Got the photo. Ask me what it shows, why, or about the eyes and mouth."
PRIVACY = (
    ":material/lock: Photos stay in this app's memory for your session only: nothing is saved to disk, and with the "
    "offline planner nothing leaves this computer. Clear the chat to drop them."
)


# --- settings ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AppSettings:
    """What the settings sidebar chose; a change of any field starts a fresh agent session.

    Attributes:
        chat: ``OFFLINE``, ``OLLAMA``, ``OPENAI`` or ``FROM_ENV``.
        chat_model: model name for Ollama / an OpenAI-compatible server.
        base_url: server address for Ollama / an OpenAI-compatible server.
        api_key: key for an OpenAI-compatible server (kept in memory only).
        classifier: None for the default model, else a built-in model's name or a checkpoint folder.
        method: CAM method used when the request does not name one.
        qa_backend: ``geometry`` or ``blip``.
    """

    chat: str = OFFLINE
    chat_model: str = ""
    base_url: str = ""
    api_key: str = ""
    classifier: str | None = None
    method: str = "gradcam"
    qa_backend: str = "geometry"


def find_checkpoints(root: Path = ROOT) -> list[Path]:
    """Checkpoint folders (holding ``model_card.json``) under ``checkpoints/``, and the exports of
    training runs: ``runs/<name>/best`` (what ``python -m training.train`` writes) and ``runs/*/export*``."""
    found: set[Path] = set()
    if (root / "checkpoints").is_dir():
        found.update(card.parent for card in (root / "checkpoints").rglob("model_card.json"))
    for export in [*root.glob("runs/*/best"), *root.glob("runs/*/export*")]:
        if export.is_dir():
            found.update(card.parent for card in export.rglob("model_card.json"))
    return sorted(found)


def _cam_methods() -> list[str]:
    try:
        from tools.explainer import METHODS
    except ImportError:  # the explainer's optional dependency is missing: offer the default only
        return ["gradcam"]
    return list(METHODS)


def _blip_info() -> tuple[bool, str]:
    """Whether BLIP weights are on this machine, and the size of the download."""
    try:
        from tools.blip import BLIP_DOWNLOAD_SIZE, blip_weights_present
    except ImportError:
        return False, "about 1.5 GB"
    return blip_weights_present(), BLIP_DOWNLOAD_SIZE


def _chat_settings() -> dict[str, str]:
    env_model = os.environ.get("FACE_AGENT_CHAT_MODEL", "").strip()
    choices = (OFFLINE, OLLAMA, OPENAI)
    if env_model and env_model.lower() not in ("offline", "planner", "none"):
        choices = (f"{FROM_ENV} ({env_model})", *choices)
    kind = st.radio("Chat model", choices, key="set_chat", help="The offline planner needs no server.")
    if kind == OLLAMA:
        return {
            "chat": kind,
            "base_url": st.text_input("Ollama address", "http://localhost:11434", key="set_ollama_url"),
            "chat_model": st.text_input("Model name", "llama3.1", key="set_ollama_model"),
        }
    if kind == OPENAI:
        return {
            "chat": kind,
            "base_url": st.text_input("Base URL", "http://localhost:8000/v1", key="set_openai_url"),
            "chat_model": st.text_input("Model name", "", key="set_openai_model"),
            "api_key": st.text_input("API key", "", type="password", key="set_openai_key"),
        }
    return {"chat": OFFLINE if kind == OFFLINE else FROM_ENV}


def _classifier_setting() -> str | None:
    # The default, every shipped model by name, then the checkpoints found on disk.
    builtin = {f"{name}: {about}": name for name, about in BUILTIN_MODELS.items()}
    found = {**builtin, **{str(p.relative_to(ROOT)): str(p) for p in find_checkpoints()}}
    choice = st.selectbox("Classifier", [DEFAULT_CLASSIFIER, *found, OTHER_PATH], key="set_classifier")
    if choice == OTHER_PATH:
        path = st.text_input("Checkpoint folder", "", key="set_classifier_path").strip()
        return path or None
    return found.get(choice)


def _download_blip(size: str) -> None:
    """Fetches BLIP's weights into the Hugging Face cache; only ever called from the opt-in button."""
    try:
        from tools.blip import BlipVQA

        with st.spinner(f"Downloading BLIP ({size})…"):
            BlipVQA(allow_download=True).load()
    except FaceAgentError as exc:
        st.error(str(exc))
    except Exception as exc:  # a failed download must not end the app; the log keeps the details
        LOG.exception("BLIP download failed")
        st.error(
            f"The BLIP download failed ({type(exc).__name__}). Check the internet connection and try again."
        )
    else:
        st.success("BLIP is ready.")


def _qa_settings() -> str:
    present, size = _blip_info()
    # Like FaceQA's "auto": BLIP when its weights are here, else geometry.
    backend = st.radio("Question answering", (GEOMETRY, BLIP), index=int(present), key="set_qa")
    if backend == GEOMETRY:
        return "geometry"
    if not present:
        st.caption(f"BLIP's weights are not on this machine: the download is {size} and needs the internet.")
        if st.button(f"Download BLIP ({size})", key="blip_download", icon=":material/download:"):
            _download_blip(size)
            present = _blip_info()[0]
    if present:
        st.caption("BLIP answers open questions; geometry still measures the face.")
        return "blip"
    st.caption("Until then, questions are answered from facial landmarks.")
    return "geometry"


def settings_sidebar() -> AppSettings:
    """Draws the sidebar (photo inputs, clear-chat, settings, privacy note); returns the settings."""
    with st.sidebar:
        st.header("Photo")
        uploader_gen = st.session_state.get("upload_gen", 0)
        st.file_uploader(
            "Add a face photo or a video",
            type=IMAGE_TYPES + ui_video.VIDEO_TYPES,  # video (issue 14)
            key=f"sidebar_upload_{uploader_gen}",
            max_upload_size=ui_video.MAX_VIDEO_MB,
        )
        if st.toggle("Use the camera", key="use_camera"):
            st.camera_input("Take a photo", key=f"camera_{uploader_gen}")
        st.button("Clear chat", icon=":material/delete_sweep:", on_click=clear_chat, width="stretch")
        st.header("Settings")
        values: dict[str, Any] = _chat_settings()
        values["classifier"] = _classifier_setting()
        methods = _cam_methods()
        values["method"] = st.selectbox(
            "Heatmap method (CAM)", methods, index=methods.index("gradcam"), key="set_cam"
        )
        values["qa_backend"] = _qa_settings()
        st.divider()
        st.caption(PRIVACY)
    return AppSettings(**values)


# --- shared models and the session ---------------------------------------------------------------


@st.cache_resource(show_spinner="Loading the emotion model…")
def load_classifier(path: str | None) -> Any:
    """The classifier for ``path`` (None = the offline default), loaded once per process."""
    from tools.classifier import default_classifier

    return default_classifier(path)


@st.cache_resource
def _serving_threads() -> int:
    """Once per process: one torch thread per request (see ``tools.device.serving_threads``)."""
    from tools.device import serving_threads

    return serving_threads()


@st.cache_resource(show_spinner="Loading the question answerer…")
def load_qa(backend: str, classifier_path: str | None) -> Any:
    """One ``FaceQA`` per backend and classifier, shared by every session (BLIP is loaded once)."""
    from tools.vqa import FaceQA

    return FaceQA(backend=backend, allow_download=False, classifier=load_classifier(classifier_path))


def _agent_options(settings: AppSettings, base: Any) -> dict[str, Any]:
    """``model`` and ``settings`` for ``ChatSession`` from the sidebar's chat-model choice."""
    if settings.chat == OFFLINE:
        return {"model": "offline", "settings": base}
    if settings.chat == FROM_ENV:
        return {"model": None, "settings": base}
    name = settings.chat_model.strip()
    if not name:
        raise InvalidRequestError("Enter the model name of your server in the sidebar.")
    provider = "ollama" if settings.chat == OLLAMA else "openai"
    # The provider prefix keeps names with a colon ("qwen2.5:7b") from reading as provider:model.
    model = f"{provider}:{name}"
    changes = {"chat_model": model, "base_url": settings.base_url.strip() or None}
    if settings.chat == OPENAI:
        changes["api_key"] = settings.api_key or None
    return {"model": model, "settings": base.with_(**changes)}


def build_session(settings: AppSettings) -> Any:
    """A new ``agent.ChatSession`` for these settings, sharing the process-wide models.

    Raises:
        FaceAgentError: a setting cannot be used (missing checkpoint, no model name ...).
    """
    import agent

    classifier_path = settings.classifier or agent.AgentSettings.from_env().classifier
    options = _agent_options(settings, agent.AgentSettings.from_env())
    options.update(
        classifier=load_classifier(classifier_path),
        method=settings.method,
        qa_backend=settings.qa_backend,
        allow_download=False,  # only the sidebar's button downloads anything
    )
    options["qa"] = load_qa(settings.qa_backend, classifier_path)  # one answerer (and BLIP) per process
    return agent.ChatSession(**options)


def ensure_session(settings: AppSettings) -> Any:
    """The browser session's ``ChatSession``; rebuilt (photos carried over) when the settings change."""
    state = st.session_state
    # Plain dicts: each rerun re-executes this file, so an AppSettings of the last run is another class.
    if state.get("chat") is not None and state.get("chat_settings") == asdict(settings):
        return state["chat"]
    try:
        session = build_session(settings)
    except FaceAgentError as exc:
        st.sidebar.error(f"{exc} Using the offline defaults meanwhile.")
        settings = AppSettings(method=settings.method)
        if state.get("chat") is not None and state.get("chat_settings") == asdict(settings):
            return state["chat"]
        session = build_session(settings)
    had_chat = state.get("chat") is not None
    for photo in state.setdefault("photos", {}).values():
        try:
            photo["agent_id"] = session.add_image(photo["bytes"], photo["name"])
        except FaceAgentError:  # it was accepted before; skip it rather than lose the session
            LOG.warning("could not carry photo %s into the new session", photo["name"])
    ui_video.carry_videos(session)  # video (issue 14)
    state["chat"], state["chat_settings"] = session, asdict(settings)
    if had_chat and state.get("messages"):
        st.toast("Settings changed: the assistant starts afresh; your photos are kept.")
    return session


def clear_chat() -> None:
    """Forgets the history, the photos and the agent's memory (a new session is built on rerun)."""
    state = st.session_state
    for key in ("messages", "photos", "videos", "chat", "chat_settings", "seen_uploads", "pending_prompt"):
        state.pop(key, None)
    # New widget keys empty the uploader and the camera.
    state["upload_gen"] = state.get("upload_gen", 0) + 1


# --- turning agent results into plain history entries --------------------------------------------


def _display_copy(data: bytes) -> tuple[bytes, float]:
    """A JPEG of the photo at most ``DISPLAY_SIDE`` px, and the scale from the original to it."""
    rgb = load_image(data)
    pil = Image.fromarray(rgb)
    scale = min(1.0, DISPLAY_SIDE / max(pil.size))
    if scale < 1.0:
        pil = pil.resize((round(pil.width * scale), round(pil.height * scale)), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    pil.save(buffer, "JPEG", quality=90)
    return buffer.getvalue(), scale


def _face_png(image_id: str | None, box: Any) -> bytes | None:
    """The face from a stored photo, cropped by its box with a margin, as PNG (None if unknown)."""
    photo = next(
        (p for p in st.session_state.get("photos", {}).values() if p.get("agent_id") == image_id), None
    )
    if photo is None or not box or len(box) != 4:
        return None
    pil = Image.open(io.BytesIO(photo["display"]))
    x0, y0, x1, y1 = (float(v) * photo["scale"] for v in box)
    pad = 0.25 * max(x1 - x0, y1 - y0)
    crop = pil.crop(
        (
            max(0, int(x0 - pad)),
            max(0, int(y0 - pad)),
            min(pil.width, int(x1 + pad)),
            min(pil.height, int(y1 + pad)),
        )
    )
    buffer = io.BytesIO()
    crop.save(buffer, "PNG")
    return buffer.getvalue()


def _chart(prediction: dict[str, Any], faces: int) -> dict[str, Any]:
    probs = prediction.get("probs") or {}
    label = prediction.get("label", "")
    title = f"{display_name(label)} ({prediction.get('confidence', 0.0):.0%})"
    if faces > 1:
        title = f"Face {int(prediction.get('face', 0)) + 1}: {title}"
    return {"title": title, "probs": {display_name(k): float(v) for k, v in probs.items()}}


def _heatmap(artifact: dict[str, Any]) -> dict[str, Any]:
    prediction = artifact.get("prediction") or {}
    regions = artifact.get("top_regions") or sorted(
        (artifact.get("regions") or {}).items(), key=lambda kv: -kv[1]
    )
    return {
        "png": artifact["overlay_png"],
        "face": _face_png(artifact.get("image_id"), prediction.get("box")),
        "target": display_name(str(artifact.get("target", ""))),
        "versus": display_name(artifact["versus"]) if artifact.get("versus") else None,
        "method": str(artifact.get("method", "")),
        "regions": [(REGION_NAMES.get(str(name), str(name)), float(share)) for name, share in regions],
    }


def reply_entry(reply: Any) -> dict[str, Any]:
    """The assistant's history entry (plain types) for a ``Reply``."""
    charts: list[dict[str, Any]] = []
    heatmaps: list[dict[str, Any]] = []
    figures: list[dict[str, Any]] = []
    for result in getattr(reply, "results", None) or []:
        artifact = getattr(result, "artifact", None)
        if not isinstance(artifact, dict):
            continue
        if isinstance((artifact.get("evidence") or {}).get("figures"), dict):
            figures.append(artifact["evidence"]["figures"])  # the measures behind a facial-state answer
        if artifact.get("predictions"):
            predictions = artifact["predictions"]
            charts.extend(_chart(p, len(predictions)) for p in predictions)
        if isinstance(artifact.get("overlay_png"), bytes | bytearray):
            heatmaps.append(_heatmap(artifact))
    shown = {h["png"] for h in heatmaps}
    return ui_video.video_parts(reply) | {  # video (issue 14): timeline charts, CSV, frames
        "role": "assistant",
        "text": reply.text,
        "tools": list(reply.tool_calls or []),
        "notices": list(reply.notices or []),
        "charts": charts,
        "heatmaps": heatmaps,
        "images": [png for png in reply.images or [] if png not in shown],
        "figures": figures,
    }


# --- rendering -----------------------------------------------------------------------------------


def _render_chart(chart: dict[str, Any]) -> None:
    import altair as alt
    import pandas as pd

    frame = pd.DataFrame({"emotion": list(chart["probs"]), "probability": list(chart["probs"].values())})
    order = frame.sort_values("probability", ascending=False)["emotion"].tolist()  # most likely on top
    bars = (
        alt.Chart(frame)
        .mark_bar(cornerRadiusEnd=3)
        .encode(
            x=alt.X("probability:Q", scale=alt.Scale(domain=[0, 1.08]), axis=None),
            y=alt.Y("emotion:N", sort=order, title=None, axis=alt.Axis(labelOverlap=False, ticks=False)),
            tooltip=["emotion:N", alt.Tooltip("probability:Q", format=".1%")],
        )
    )
    labels = (
        bars.mark_text(align="left", dx=4)
        .encode(text=alt.Text("probability:Q", format=".0%"))
        .transform_filter(alt.datum.probability >= 0.005)  # no row of "0%" under a confident reading
    )
    st.caption(f"Probabilities — {chart['title']}")
    st.altair_chart((bars + labels).properties(height=CHART_ROW * len(frame)), width="stretch")


def _render_heatmap(heat: dict[str, Any], key: str) -> None:
    title = f"{heat['method']} for *{heat['target']}*" + (
        f" vs *{heat['versus']}*" if heat.get("versus") else ""
    )
    face_col, heat_col, region_col = st.columns([1, 1, 1.3])
    if heat.get("face"):
        face_col.image(heat["face"], caption="Face", width="stretch")
    heat_col.image(heat["png"], caption=f"Heatmap ({heat['method']})", width="stretch")
    with region_col:
        st.markdown(f"**Where the model looked** — {title}")
        for name, share in heat["regions"][:5]:
            st.progress(min(1.0, max(0.0, share)), text=f"{name}: {share:.0%}")
        st.download_button(
            "Download heatmap",
            icon=":material/download:",
            data=heat["png"],
            file_name=f"heatmap_{heat['target'].replace(' ', '_')}_{heat['method']}.png",
            mime="image/png",
            key=f"download_{key}",
            on_click="ignore",
        )


def render_entry(entry: dict[str, Any], index: int) -> None:
    """Draws one history entry (called for every entry on every rerun)."""
    with st.chat_message(entry["role"], avatar=AVATARS[entry["role"]]):
        _render_body(entry, index)


def _render_body(entry: dict[str, Any], index: int) -> None:
    if entry.get("image"):
        st.image(entry["image"], caption=entry.get("image_name"), width=THUMB_WIDTH)
    if entry.get("text"):
        st.markdown(entry["text"])
    for notice in entry.get("notices", []):
        st.info(notice, icon=":material/info:")
    if entry.get("error"):
        st.error(entry["error"], icon=":material/error:")
    ui_video.render_video_parts(entry, index)  # video (issue 14)
    for chart in entry.get("charts", []):
        _render_chart(chart)
    for j, heat in enumerate(entry.get("heatmaps", [])):
        _render_heatmap(heat, f"{index}_{j}")
    for j, png in enumerate(entry.get("images", [])):
        st.image(png, width=THUMB_WIDTH)
        st.download_button(
            "Download image",
            png,
            f"image_{index}_{j}.png",
            "image/png",
            icon=":material/download:",
            key=f"image_{index}_{j}",
            on_click="ignore",
        )
    for figures in entry.get("figures", []):
        with st.expander("The measures behind this answer", icon=":material/straighten:"):
            st.table({"measure": list(figures), "value": [str(v) for v in figures.values()]})
    if entry.get("tools"):
        st.caption("Tools used: " + " → ".join(entry["tools"]))


def _append(entry: dict[str, Any]) -> None:
    messages = st.session_state.setdefault("messages", [])
    messages.append(entry)
    render_entry(entry, len(messages) - 1)


# --- turns ---------------------------------------------------------------------------------------


def add_photo(session: Any, data: bytes, name: str, text: str = "") -> bool:
    """Gives a photo to the agent and shows it as the person's message; an error entry if it is refused.

    Returns:
        True when the agent accepted the photo.
    """
    if not data:
        _append({"role": "user", "text": text or f":material/attach_file: {name}"})
        _append({"role": "assistant", "error": f"{name} is empty. Please choose a photo of a face."})
        return False
    try:
        image_id = session.add_image(data, name)
        display, scale = _display_copy(data)
    except FaceAgentError as exc:
        _append({"role": "user", "text": text or f":material/attach_file: {name}"})
        _append({"role": "assistant", "error": f"I could not use {name}: {exc}"})
        return False
    photos = st.session_state.setdefault("photos", {})
    photos[image_id] = {"agent_id": image_id, "name": name, "bytes": data, "display": display, "scale": scale}
    _append({"role": "user", "text": text, "image": display, "image_name": name})
    return True


def _tool_words(name: str) -> str:
    words = {
        "classify": "Reading the emotion",
        "explain": "Computing the heatmap",
        "describe": "Describing the face",
        "video_frame": "Taking the frame from the video",  # video (issue 14)
        "analyze_video": "Reading the video, frame by frame",  # video (issue 14)
    }
    for stem, phrase in words.items():
        if stem in name:
            return phrase
    return "Answering the question" if ("ask" in name or "question" in name) else f"Running {name}"


def _send(session: Any, text: str, status: Any) -> Any:
    """One agent turn, reporting tool activity into the status box as it happens."""

    def on_event(kind: str, name: str, data: Any = None) -> None:
        if kind == "tool_start":
            status.update(label=f"{_tool_words(name)}…")
            status.write(f":material/build: {_tool_words(name)} (`{name}`)")
        elif kind == "tool_end":
            status.write(f":material/check: `{name}` done")

    return session.send(text, on_event=on_event)


def answer(session: Any, text: str) -> None:
    """Sends ``text`` to the agent and shows the reply; every failure becomes a message in the chat."""
    messages = st.session_state.setdefault("messages", [])
    with st.chat_message("assistant", avatar=AVATARS["assistant"]):
        with st.status("Thinking…", expanded=False) as status:
            try:
                reply = _send(session, text, status)
            except FaceAgentError as exc:
                status.update(label="Could not answer", state="error")
                entry = {"role": "assistant", "error": str(exc)}
            except Exception as exc:  # the chat must survive anything; the log keeps the traceback
                LOG.exception("turn failed")
                status.update(label="Something went wrong", state="error")
                entry = {
                    "role": "assistant",
                    "error": f"Something went wrong while answering ({type(exc).__name__}). Your conversation is "
                    "kept: try again, rephrase, or switch to the offline planner in the sidebar.",
                }
            else:
                status.update(
                    label="Done: " + (", ".join(reply.tool_calls) or "no tools needed"), state="complete"
                )
                entry = reply_entry(reply)
                if getattr(reply, "error", None) and not (entry["charts"] or entry["heatmaps"]):
                    # Nothing could be shown (no face, unreadable photo ...): the reply is the error.
                    entry["error"], entry["text"] = entry["text"] or reply.error, ""
        messages.append(entry)
        # Drawn under the status box in this run; every later rerun redraws it from the history.
        _render_body(entry, len(messages) - 1)


def _new_uploads() -> list[Any]:
    """Files from the sidebar uploader or the camera that were not handled yet."""
    gen = st.session_state.get("upload_gen", 0)
    seen: set[str] = st.session_state.setdefault("seen_uploads", set())
    fresh = []
    for key in (f"sidebar_upload_{gen}", f"camera_{gen}"):
        file = st.session_state.get(key)
        if file is not None and file.file_id not in seen:
            seen.add(file.file_id)
            fresh.append(file)
    return fresh + ui_video.take_live_frames()  # video (issue 14): frames sent from the Live page


def _example_buttons() -> None:
    columns = st.columns(len(EXAMPLE_PROMPTS))
    for column, prompt in zip(columns, EXAMPLE_PROMPTS):
        if column.button(prompt, key=f"example_{prompt}", width="stretch"):
            st.session_state["pending_prompt"] = prompt


def favicon() -> Image.Image:
    """A smiling face drawn here: the app serves it itself (a named icon is fetched from Google's CDN)."""
    from PIL import ImageDraw

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
    _serving_threads()
    # --- video (issue 14): pages ---
    chat = st.Page(chat_page, title="Chat", icon=":material/chat:", default=True, url_path="chat")
    live = st.Page(
        str(ROOT / "app_pages" / "live.py"), title="Live", icon=":material/videocam:", url_path="live"
    )
    ui_video.PAGES.update(chat=chat, live=live)
    st.navigation([chat, live]).run()


def chat_page() -> None:
    """The chat: settings, history, input, one agent turn."""
    st.title(":material/sentiment_satisfied: Facial emotion agent")
    st.caption(
        "Upload a face and chat about it: the emotion, why the model thinks so, and what the face is doing."
    )
    settings = settings_sidebar()
    try:
        session = ensure_session(settings)
    except ImportError as exc:
        st.error(f"The agent could not be loaded ({exc}). Run `make install` and start the app again.")
        st.stop()
    except Exception as exc:  # explain on screen, never a traceback
        LOG.exception("session could not start")
        st.error(f"The assistant could not start: {exc}")
        st.stop()

    _example_buttons()
    for index, entry in enumerate(st.session_state.setdefault("messages", [])):
        render_entry(entry, index)
    handle_input(session)


def handle_input(session: Any) -> None:
    """Turns this run's new input into history entries and at most one agent turn.

    Input is a sidebar or camera photo, a chat message with or without a photo, or an example button.
    """
    for file in _new_uploads():
        if ui_video.is_video(file.name):  # video (issue 14)
            if ui_video.add_video(session, file.getvalue(), file.name, "", _append):
                _append({"role": "assistant", "text": ui_video.GOT_VIDEO})
        elif add_photo(session, file.getvalue(), file.name):
            _append({"role": "assistant", "text": GOT_PHOTO})
    prompt = st.chat_input(
        "Ask about the face, or attach a photo or a video with +",
        accept_file=True,
        file_type=IMAGE_TYPES + ui_video.VIDEO_TYPES,  # video (issue 14)
        max_upload_size=ui_video.MAX_VIDEO_MB,  # photos over MAX_UPLOAD_MB are refused by load_image
    )
    text = st.session_state.pop("pending_prompt", None)
    files: list[Any] = []
    if prompt is not None:
        text, files = prompt.text, list(prompt.files or [])
    if text is None and not files:
        if not st.session_state.get("photos"):
            st.info(GUIDANCE, icon=":material/photo_camera:")
        return
    text = (text or "").strip()
    photo_ok = all(
        [
            ui_video.add_video(session, file.getvalue(), file.name, text, _append)  # video (issue 14)
            if ui_video.is_video(file.name)
            else add_photo(session, file.getvalue(), file.name, text)
            for file in files
        ]
    )
    if not files and text:
        _append({"role": "user", "text": text})
    if text and photo_ok:
        answer(session, text)
    elif files and photo_ok:
        videos = all(ui_video.is_video(file.name) for file in files)
        _append({"role": "assistant", "text": ui_video.GOT_VIDEO if videos else GOT_PHOTO})


if __name__ == "__main__":  # `streamlit run` and AppTest run the file as __main__
    main()
