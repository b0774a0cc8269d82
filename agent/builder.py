"""``build_agent``: the LangChain agent over the face tools, with its prompt, memory and limits."""

from __future__ import annotations

import concurrent.futures
import contextvars
from collections.abc import Callable, Sequence
from typing import Any

from langchain.agents import create_agent
from langchain.agents.middleware import (
    ModelCallLimitMiddleware,
    ModelRequest,
    ModelResponse,
    ToolCallLimitMiddleware,
    dynamic_prompt,
    wrap_model_call,
)
from langchain_core.language_models import BaseChatModel
from langchain_core.tools import BaseTool
from langgraph.checkpoint.memory import InMemorySaver

from agent.guard import ToolCallGuard
from agent.models import resolve_chat_model
from agent.planner import OfflinePlanner
from agent.prompts import system_prompt, video_prompt
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
    # the session's videos, listed after the photos
    return system_prompt(names) + video_prompt(getattr(context, "video_names", None) or {})


def model_timeout(seconds: float) -> Any:
    """Middleware ending a model call that takes longer than ``seconds`` with ``TimeoutError``.

    Client-level timeouts cover HTTP providers; this also covers any model that hangs (a stuck local
    server, a custom model). The late call is abandoned in its worker thread and its answer dropped,
    so it can never land in the conversation.
    """
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="model-call")

    @wrap_model_call
    def _timeout(request: ModelRequest, handler: Callable[[ModelRequest], ModelResponse]) -> ModelResponse:
        context = contextvars.copy_context()  # LangGraph keeps the run's config in context variables
        future = pool.submit(context.run, handler, request)
        try:
            return future.result(timeout=seconds)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"the chat model did not answer within {seconds:g} s") from None

    return _timeout


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
    if not isinstance(chat, OfflinePlanner):
        middleware.append(model_timeout(settings.timeout_s))
    return create_agent(
        chat,
        tools,
        middleware=middleware,
        context_schema=FaceToolContext,
        checkpointer=checkpointer if checkpointer is not None else InMemorySaver(),
        name="face_agent",
    )
