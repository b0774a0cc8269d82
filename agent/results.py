"""What one chat turn returns: the answer, the tools that ran, their results and any notices."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import AIMessage, ToolMessage

__all__ = ["ToolResult", "Reply", "collect_results", "message_text"]


@dataclass(frozen=True)
class ToolResult:
    """One tool call of a turn and what it returned.

    Attributes:
        tool: the tool's name (``classify_emotion`` ...).
        args: the arguments the model gave it.
        content: the short text the model read.
        artifact: the structured result (scores, PNG bytes ...), or None; holds ``"error"`` when the
            tool could not do it.
    """

    tool: str
    args: dict[str, Any]
    content: str
    artifact: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        """False when the tool reported an error."""
        return not (self.artifact and "error" in self.artifact) and not self.content.startswith("Error")


@dataclass
class Reply:
    """The answer to one user message.

    Attributes:
        text: the combined answer.
        tool_calls: names of the tools that ran, in order.
        images: PNG bytes produced this turn (heatmaps, photos annotated with numbered face boxes), in order.
        notices: things the user should know about how the answer was made (e.g. the configured
            chat model failed and the offline planner answered instead).
        results: each tool call with its arguments, text and artifact.
        error: set when the turn could not be answered as asked (bad upload, internal failure).
    """

    text: str
    tool_calls: list[str] = field(default_factory=list)
    images: list[bytes] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    results: list[ToolResult] = field(default_factory=list)
    error: str | None = None


def message_text(message: Any) -> str:
    """The text of a message whose content is a string or a list of content blocks."""
    content = getattr(message, "content", message)
    if isinstance(content, str):
        return content
    parts = []
    for block in content or []:
        if isinstance(block, str):
            parts.append(block)
        elif isinstance(block, dict) and block.get("type") == "text":
            parts.append(str(block.get("text", "")))
    return "\n".join(parts)


def collect_results(messages: Sequence[Any]) -> list[ToolResult]:
    """Each tool call in ``messages`` paired with its tool message, in call order (unanswered calls left out)."""
    answers = {m.tool_call_id: m for m in messages if isinstance(m, ToolMessage)}
    results = []
    for message in messages:
        if not isinstance(message, AIMessage):
            continue
        for call in message.tool_calls:
            answer = answers.get(call.get("id"))
            if answer is None:
                continue
            artifact = answer.artifact if isinstance(answer.artifact, dict) else None
            results.append(
                ToolResult(call["name"], dict(call.get("args") or {}), message_text(answer), artifact)
            )
    return results
