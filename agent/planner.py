"""The offline planner: a chat model of our own that needs no language-model server.

``OfflinePlanner`` is a ``BaseChatModel`` with ``bind_tools``, so ``create_agent`` drives it like any
other model. Each call looks at the conversation and runs the pipeline

    understanding (agent.understanding) -> discourse state (agent.discourse)
        -> planning (agent.planning) -> composing (agent.compose)

- the last message is the user's: the plan's tool calls, or a direct reply (a decline, a product
  answer, small talk, a question back);
- tool results came back: the calls that needed them (a face placed by position, the photo tools on
  a frame taken from a video), or the combined answer written from the artifacts, shaped like the
  question.

What the next turn must know (a request waiting for a face number, a declined monitoring context)
travels in the answer message's ``additional_kwargs``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, SystemMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.utils.function_calling import convert_to_openai_tool

from agent.compose import compose_answer
from agent.discourse import Conversation, split_turn
from agent.planning import Plan, plan_turn, video_follow_up
from agent.planning.photos import MAX_CALLS, TOOL_OF
from agent.prompts import parse_video_list
from agent.results import collect_results, message_text

__all__ = ["OfflinePlanner", "Plan", "Conversation", "plan_turn", "TOOL_OF", "MAX_STEPS", "MAX_CALLS"]

MAX_STEPS = 3  # model calls with tool calls per turn: look up the faces, then act on them


def _tool_names(tools: Any) -> list[str] | None:
    if tools is None:
        return None
    names = []
    for spec in tools:
        if isinstance(spec, dict):
            names.append(spec.get("function", spec).get("name", ""))
        else:
            names.append(getattr(spec, "name", ""))
    return names


class OfflinePlanner(BaseChatModel):
    """A chat model of our own that plans tool calls and writes answers from their results.

    Deterministic and offline; the default model of ``ChatSession``. Standard chat-model
    parameters (temperature, max_tokens ...) are accepted and ignored.

    Attributes:
        model_name: the name reported in traces.
        labels: the classifier's labels, to resolve emotions into; basic + compound when None.
        model_info: the classifier's model card (name, architecture, provenance), for questions
            about the model.
    """

    model_name: str = "offline-planner"
    labels: list[str] | None = None
    model_info: dict[str, Any] | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    timeout: float | None = None
    stop: list[str] | None = None
    max_retries: int | None = None
    api_key: str | None = None
    streaming: bool = False

    @property
    def _llm_type(self) -> str:
        return "face-agent-offline-planner"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name}

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> dict[str, Any]:
        params: dict[str, Any] = {
            "ls_provider": "face_agent",
            "ls_model_name": kwargs.get("model", self.model_name),
            "ls_model_type": "chat",
        }
        if self.temperature is not None:
            params["ls_temperature"] = self.temperature
        if self.max_tokens is not None:
            params["ls_max_tokens"] = self.max_tokens
        if stop or self.stop:
            params["ls_stop"] = stop or self.stop
        return params

    def bind_tools(self, tools: Sequence[Any], *, tool_choice: Any = None, **kwargs: Any) -> Runnable:
        """Binds tools (any format ``convert_to_openai_tool`` accepts); the planner calls only these."""
        formatted = [convert_to_openai_tool(t) for t in tools]
        if tool_choice is not None:
            kwargs["tool_choice"] = tool_choice
        return self.bind(tools=formatted, **kwargs)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        tools = _tool_names(kwargs.get("tools"))
        last_human, _ = split_turn(messages)
        turn = messages[last_human + 1 :] if last_human >= 0 else []
        # a frame taken from a video is analysed next, in the same turn
        follow = video_follow_up(messages, self.labels, tools) if turn else []
        if follow:
            calls = [
                {"name": name, "args": args, "id": f"call_{uuid.uuid4().hex[:12]}", "type": "tool_call"}
                for name, args in follow
            ]
            return ChatResult(generations=[ChatGeneration(message=AIMessage("", tool_calls=calls))])
        steps = sum(1 for m in turn if isinstance(m, AIMessage) and m.tool_calls)
        plan = plan_turn(messages, self.labels, tools, self.model_info)
        if plan.calls and steps < MAX_STEPS:
            calls = [
                {"name": name, "args": args, "id": f"call_{uuid.uuid4().hex[:12]}", "type": "tool_call"}
                for name, args in plan.calls
            ]
            message = AIMessage("", tool_calls=calls)
        elif any(isinstance(m, ToolMessage) for m in turn):
            message = AIMessage(self._answer(plan, turn, messages), additional_kwargs=_memo(plan))
        else:
            message = AIMessage(plan.reply or "", additional_kwargs=_memo(plan))
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _answer(self, plan: Plan, turn: Sequence[BaseMessage], messages: Sequence[BaseMessage]) -> str:
        _, images = split_turn(messages)
        names = dict(images)
        for message in messages:
            if isinstance(message, SystemMessage):
                names.update(parse_video_list(message_text(message)))
        results = collect_results(turn)
        return compose_answer(
            results,
            plan.request,
            names,
            plan.notes,
            where=plan.where,
            chosen=plan.chosen,
            lookups=plan.lookups,
            lead=plan.lead,
        )


def _memo(plan: Plan) -> dict[str, Any]:
    """What the discourse state reads back from this answer: a request waiting for a face number, a
    declined monitoring context."""
    memo: dict[str, Any] = {}
    if plan.pending:
        memo["pending"] = plan.pending
    if plan.declined:
        memo["declined"] = plan.declined
        if plan.declined_media:
            memo["media"] = list(plan.declined_media)
    return memo
