"""The facial emotion agent: a LangChain tool-calling agent over the face tools.

    from agent import ChatSession
    s = ChatSession()                         # offline planner unless FACE_AGENT_CHAT_MODEL is set
    s.add_image("face.jpg")
    reply = s.send("What is she feeling and why?")
    reply.text, reply.tool_calls, reply.images

``build_agent`` gives the bare LangGraph agent for other callers; ``OfflinePlanner`` is the offline
chat model; ``AgentSettings`` holds the model and limit settings.

Each name loads on first use, so ``import agent.understanding`` (training, scripts) does not import
LangChain. Asking for ``ChatSession`` first starts loading the understanding model and the voice's
landmark model in background threads, then imports LangChain: ONNX Runtime builds their sessions
without the interpreter lock, so a fresh process's first answer does not wait for them after the
import (``ChatSession`` starts the same loads; each runs once).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agent.builder import build_agent
    from agent.planner import OfflinePlanner
    from agent.results import Reply, ToolResult
    from agent.session import ChatSession
    from agent.settings import AgentSettings

__all__ = ["AgentSettings", "ChatSession", "OfflinePlanner", "Reply", "ToolResult", "build_agent"]

_LAZY = {
    "AgentSettings": "agent.settings",
    "ChatSession": "agent.session",
    "OfflinePlanner": "agent.planner",
    "Reply": "agent.results",
    "ToolResult": "agent.results",
    "build_agent": "agent.builder",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if name == "ChatSession":
        from agent.understanding import warm_up
        from tools.landmarks import preload

        warm_up()
        preload()
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
