"""The chat page's sidebar: photo and video inputs, clear-chat, the settings, the privacy note."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st

from tools.errors import FaceAgentError
from tools.models.builtin import BUILTIN_MODELS
from ui_app.parts.video import MAX_VIDEO_MB, VIDEO_TYPES

__all__ = [
    "AppSettings",
    "IMAGE_TYPES",
    "OFFLINE",
    "OLLAMA",
    "OPENAI",
    "FROM_ENV",
    "find_checkpoints",
    "settings_sidebar",
]

LOG = logging.getLogger("face_agent.ui")
ROOT = Path(__file__).resolve().parents[2]
IMAGE_TYPES = ["jpg", "jpeg", "png", "webp", "gif", "bmp", "tif", "tiff"]
OFFLINE, OLLAMA, OPENAI = "Offline planner", "Ollama", "OpenAI-compatible"
FROM_ENV = "From FACE_AGENT_CHAT_MODEL"
DEFAULT_CLASSIFIER = "Default (face-api.js FaceExpressionNet)"
OTHER_PATH = "Another folder…"
GEOMETRY, BLIP = "Geometry (landmarks)", "BLIP-VQA"
PRIVACY = (
    ":material/lock: Photos stay in this app's memory for your session only: nothing is saved to disk, and with the "
    "offline planner nothing leaves this computer. Clear the chat to drop them."
)


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


def settings_sidebar(on_clear: Any) -> AppSettings:
    """Draws the sidebar (photo inputs, clear-chat, settings, privacy note); returns the settings.

    Args:
        on_clear: the clear-chat button's callback.
    """
    with st.sidebar:
        st.header("Photos and videos")
        uploader_gen = st.session_state.get("upload_gen", 0)
        st.file_uploader(
            "Add face photos or videos",
            type=IMAGE_TYPES + VIDEO_TYPES,
            accept_multiple_files=True,
            key=f"sidebar_upload_{uploader_gen}",
            max_upload_size=MAX_VIDEO_MB,  # photos over their own limit are refused by load_image
        )
        if st.toggle("Use the camera", key="use_camera"):
            st.camera_input("Take a photo", key=f"camera_{uploader_gen}")
        st.button("Clear chat", icon=":material/delete_sweep:", on_click=on_clear, width="stretch")
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
