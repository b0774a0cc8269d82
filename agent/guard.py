"""Checks on what a chat model asks for, before any tool runs.

A real model may call a tool that does not exist, send arguments that do not fit the tool's schema,
produce unparseable JSON, or name a photo that was never uploaded. ``ToolCallGuard`` stops the run
at that point with ``ModelMisbehaviorError``; ``ChatSession`` then answers the turn with the offline
planner and says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain.agents.middleware import AgentMiddleware
from langchain_core.messages import AIMessage
from langchain_core.tools import BaseTool
from pydantic import ValidationError

from tools.errors import FaceAgentError
from tools.lc import IMAGE_TOOLS

__all__ = ["ModelMisbehaviorError", "ToolCallGuard"]


class ModelMisbehaviorError(FaceAgentError):
    """The chat model asked for something no tool can do (unknown tool, bad arguments, unknown photo)."""


class ToolCallGuard(AgentMiddleware):
    """Validates every tool call of a model response against the tools and the session's photos.

    Args:
        tools: the agent's tools.
    """

    def __init__(self, tools: Sequence[BaseTool]) -> None:
        super().__init__()
        self.known = {t.name: t for t in tools}

    def after_model(self, state: Any, runtime: Any) -> dict[str, Any] | None:
        """Raises ``ModelMisbehaviorError`` on the first call that cannot be run as asked."""
        messages = state.get("messages", []) if isinstance(state, dict) else getattr(state, "messages", [])
        if not messages or not isinstance(messages[-1], AIMessage):
            return None
        message = messages[-1]
        if message.invalid_tool_calls:
            bad = message.invalid_tool_calls[0]
            raise ModelMisbehaviorError(
                f"made a malformed tool call ({bad.get('name') or 'unnamed'}: {bad.get('error') or 'unparseable arguments'})"
            )
        images = getattr(getattr(runtime, "context", None), "images", None) or {}
        for call in message.tool_calls:
            name = call.get("name")
            tool = self.known.get(name)
            if tool is None:
                raise ModelMisbehaviorError(f"called a tool that does not exist ({name!r})")
            args = call.get("args") or {}
            try:
                tool.tool_call_schema.model_validate(args)
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first.get("loc", ()))
                raise ModelMisbehaviorError(
                    f"called {name} with invalid arguments ({where}: {first.get('msg')})"
                ) from exc
            if name in IMAGE_TOOLS and args.get("image_id") not in images:
                raise ModelMisbehaviorError(
                    f"asked for a photo that does not exist ({args.get('image_id')!r}; the photos are "
                    f"{', '.join(images) or 'none'})"
                )
        return None
