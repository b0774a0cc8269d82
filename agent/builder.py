"""``build_agent``: the LangChain agent over the face tools, with its prompt, memory and limits."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain.agents import create_agent
from langchain.agents.middleware import (
    ModelCallLimitMiddleware,
    ModelRequest,
    ToolCallLimitMiddleware,
    dynamic_prompt,
)
from langchain_core.language_models import BaseChatModel
from langchain_core.tools import BaseTool
from langgraph.checkpoint.memory import InMemorySaver

from agent.guard import ToolCallGuard
from agent.models import resolve_chat_model
from agent.planner import OfflinePlanner
from agent.prompts import system_prompt
from agent.settings import AgentSettings
from tools.lc import FaceToolContext, face_tools

__all__ = ["build_agent"]


@dynamic_prompt
def _session_prompt(request: ModelRequest) -> str:
    """The system prompt with the photos of this session, rebuilt for every model call."""
    context = getattr(request.runtime, "context", None)
    names = dict(getattr(context, "names", None) or {})
    for image_id in getattr(context, "images", None) or {}:
        names.setdefault(image_id, image_id)
    return system_prompt(names)


def build_agent(
    model: str | BaseChatModel | None = None,
    tools: Sequence[BaseTool] | None = None,
    checkpointer: Any = None,
    *,
    settings: AgentSettings | None = None,
) -> Any:
    """A tool-calling agent over the face tools (``langchain.agents.create_agent``).

    Invoke it with ``context=FaceToolContext(images=..., names=...)`` and a thread id in the config;
    the system prompt lists the photos of the context, so the model can name them by id.

    Args:
        model: a chat model or ``init_chat_model`` string; None reads ``FACE_AGENT_CHAT_MODEL`` and
            falls back to the offline planner; ``"offline"`` forces the planner.
        tools: the tools; the installed face tools when None.
        checkpointer: memory per thread id; a fresh ``InMemorySaver`` when None.
        settings: limits per turn and connection settings; from the environment when None.

    Raises:
        ModelUnavailableError: the model string names a provider that cannot be set up.
    """
    settings = settings or AgentSettings.from_env()
    chat = resolve_chat_model(model, settings) or OfflinePlanner()
    tools = list(tools) if tools is not None else face_tools()
    middleware = [
        _session_prompt,
        ToolCallGuard(tools),
        ModelCallLimitMiddleware(run_limit=settings.max_model_calls, exit_behavior="error"),
        ToolCallLimitMiddleware(run_limit=settings.max_tool_calls, exit_behavior="error"),
    ]
    return create_agent(
        chat,
        tools,
        middleware=middleware,
        context_schema=FaceToolContext,
        checkpointer=checkpointer if checkpointer is not None else InMemorySaver(),
        name="face_agent",
    )
