"""Agent settings: which chat model to use, how to reach it, and the limits of one turn.

Everything has an environment default, so the UI, the terminal chat and tests share one place:

- ``FACE_AGENT_CHAT_MODEL``: an ``init_chat_model`` string (``ollama:llama3.1``,
  ``openai:gpt-4o-mini``), an OpenAI-compatible server URL (``http://127.0.0.1:8080/v1``), or
  empty / ``offline`` for the offline planner (the default).
- ``FACE_AGENT_BASE_URL``: the server address for the provider (llama.cpp, vLLM, a remote Ollama).
- ``FACE_AGENT_API_KEY``: the key, where the provider needs one.
- ``FACE_AGENT_TIMEOUT``: seconds one model call may take (default 30).
- ``FACE_AGENT_SEND_IMAGES``: ``1`` to let a configured chat model see the photo itself; off by
  default, so remote models only ever read the tools' text.
- ``FACE_AGENT_CLASSIFIER``: the emotion model (``default`` or a checkpoint folder).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace

from tools.errors import InvalidRequestError

__all__ = ["AgentSettings", "OFFLINE_NAMES"]

OFFLINE_NAMES = frozenset({"", "offline", "planner", "offline-planner", "none"})


def _flag(value: str | None) -> bool:
    return str(value or "").strip().lower() in {"1", "true", "yes", "on"}


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise InvalidRequestError(f"{name} must be a number of seconds, not {raw!r}.") from exc


@dataclass(frozen=True)
class AgentSettings:
    """How a chat session reaches its chat model, and the limits of one turn.

    Attributes:
        chat_model: an ``init_chat_model`` string or server URL; None for the offline planner.
        base_url: the provider's address (OpenAI-compatible servers, remote Ollama).
        api_key: the provider's key, where it needs one.
        timeout_s: seconds one model call may take before the turn falls back to the planner.
        send_images: whether a configured chat model may see the photo itself (default off).
        max_model_calls: model calls allowed in one turn (stops endless tool loops).
        max_tool_calls: tool calls allowed in one turn.
        classifier: the emotion model: None / ``default`` or a checkpoint folder.
    """

    chat_model: str | None = None
    base_url: str | None = None
    api_key: str | None = None
    timeout_s: float = 30.0
    send_images: bool = False
    max_model_calls: int = 6
    max_tool_calls: int = 12
    classifier: str | None = None

    @property
    def offline(self) -> bool:
        """True when no chat model is configured (the offline planner answers)."""
        return self.chat_model is None or self.chat_model.strip().lower() in OFFLINE_NAMES

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AgentSettings:
        """Settings from ``FACE_AGENT_*`` environment variables (see the module docstring)."""
        env = os.environ if env is None else env
        return cls(
            chat_model=env.get("FACE_AGENT_CHAT_MODEL") or None,
            base_url=env.get("FACE_AGENT_BASE_URL") or None,
            api_key=env.get("FACE_AGENT_API_KEY") or None,
            timeout_s=_number(env, "FACE_AGENT_TIMEOUT", 30.0),
            send_images=_flag(env.get("FACE_AGENT_SEND_IMAGES")),
            classifier=env.get("FACE_AGENT_CLASSIFIER") or None,
        )

    def with_(self, **changes: object) -> AgentSettings:
        """A copy with some fields changed."""
        return replace(self, **changes)
