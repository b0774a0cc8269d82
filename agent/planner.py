"""The offline planner: a chat model of our own that needs no language-model server.

``OfflinePlanner`` is a ``BaseChatModel`` with ``bind_tools``, so ``create_agent`` drives it like any
other model. Each call looks at the conversation:

- the last message is the user's: it reads the request (``agent.intents``), resolves references
  against earlier turns ("that", "instead", "the other one", "the second face") and answers with
  tool calls, or directly for help, small talk, refusals and a missing photo;
- tool results came back: it writes the combined answer from their artifacts (``agent.compose``).

The photos it may use are the ones the system prompt lists (``agent.prompts``) plus any attachment
notes in user messages.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.utils.function_calling import convert_to_openai_tool

from agent.compose import NEED_PHOTO, compose_answer, small_talk_text
from agent.intents import ASK, CLASSIFY, DESCRIBE, EXPLAIN, Request, understand
from agent.prompts import ATTACHMENT_RE, parse_image_list
from agent.results import collect_results, message_text
from agent.video_plan import plan_video, video_follow_up  # video (issue 14)
from tools.lc import TOOL_NAMES

__all__ = ["OfflinePlanner", "Plan", "Conversation", "plan_turn", "TOOL_OF", "INTENT_OF"]

TOOL_OF = {
    CLASSIFY: "classify_emotion",
    EXPLAIN: "explain_prediction",
    ASK: "answer_question",
    DESCRIBE: "describe_face",
}
INTENT_OF = {v: k for k, v in TOOL_OF.items()}
MAX_CALLS = 8  # per turn; "explain every face of five photos" is not a chat request
_MISSING = {
    "explain_prediction": "I can't show heatmaps here: the explanation tool is not available.",
    "answer_question": "I can't answer questions about the face here: the question tool is not available.",
    "describe_face": "I can't describe the face here: the question tool is not available.",
    "classify_emotion": "I can't read emotions here: the classification tool is not available.",
}


@dataclass
class Conversation:
    """What earlier turns established, for resolving references.

    Attributes:
        images: image id -> name, in upload order.
        focus: the photos the conversation is about (the last tool turn's, or a new upload).
        face: the face in focus (1 = most prominent).
        last_calls: (tool, args) of the last turn that ran tools.
        faces: image id -> the classify predictions seen for it (for counts and left/right).
        tools_run: names of every tool that ran so far.
    """

    images: dict[str, str] = field(default_factory=dict)
    focus: list[str] = field(default_factory=list)
    face: int = 1
    last_calls: list[tuple[str, dict]] = field(default_factory=list)
    faces: dict[str, list[dict]] = field(default_factory=dict)
    tools_run: set[str] = field(default_factory=set)

    @classmethod
    def read(cls, messages: Sequence[BaseMessage], images: Mapping[str, str]) -> Conversation:
        """Walks the messages before the current request."""
        conv = cls(images=dict(images))
        new_turn = True
        face_before: dict[str | None, int] = {}
        for message in messages:
            if isinstance(message, HumanMessage):
                attached = [m.group("id") for m in ATTACHMENT_RE.finditer(message_text(message))]
                for image_id in attached:
                    conv.images.setdefault(image_id, image_id)
                if attached:
                    conv.focus, conv.face = [attached[-1]], 1
                new_turn = True
            elif isinstance(message, AIMessage) and message.tool_calls:
                if new_turn:
                    conv.last_calls, conv.focus, new_turn = [], [], False
                for call in message.tool_calls:
                    args = dict(call.get("args") or {})
                    conv.last_calls.append((call["name"], args))
                    conv.tools_run.add(call["name"])
                    image_id = args.get("image_id")
                    if image_id in conv.images and image_id not in conv.focus:
                        conv.focus.append(image_id)
                    if isinstance(args.get("face"), int):
                        face_before[call.get("id")] = conv.face
                        conv.face = args["face"]
            elif isinstance(message, ToolMessage) and isinstance(message.artifact, dict):
                if "error" in message.artifact and message.tool_call_id in face_before:
                    conv.face = face_before[message.tool_call_id]  # a face that failed is not in focus
                preds = message.artifact.get("predictions")
                if preds and message.artifact.get("image_id"):
                    known = conv.faces.get(message.artifact["image_id"], [])
                    conv.faces[message.artifact["image_id"]] = preds if len(preds) >= len(known) else known
        return conv

    def last(self, tool: str) -> dict | None:
        """The args of the last turn's call to ``tool``, or None."""
        found = [args for name, args in self.last_calls if name == tool]
        return found[-1] if found else None


@dataclass
class Plan:
    """What the planner will do with one request.

    Attributes:
        request: the understood message.
        calls: tool calls (name, args), in order; empty when ``reply`` answers directly.
        reply: a direct answer (help, small talk, refusal, no photo), or None.
        notes: sentences for the final answer (a missing tool, only one photo to compare ...).
    """

    request: Request
    calls: list[tuple[str, dict]] = field(default_factory=list)
    reply: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def tools(self) -> list[str]:
        """The tool names of ``calls``, in order."""
        return [name for name, _ in self.calls]


def _split_turn(messages: Sequence[BaseMessage]) -> tuple[int, dict[str, str]]:
    """(index of the last user message, image id -> name from the system prompt)."""
    images: dict[str, str] = {}
    last_human = -1
    for i, message in enumerate(messages):
        if isinstance(message, SystemMessage):
            images.update(parse_image_list(message_text(message)))
        elif isinstance(message, HumanMessage):
            last_human = i
    return last_human, images


def _resolve_images(req: Request, conv: Conversation, plan: Plan) -> list[str] | None:
    ids = list(conv.images)
    default = [i for i in conv.focus if i in conv.images] or ids[-1:]
    ref = req.image
    if ref is None and req.generic_one is not None and len(ids) > 1:
        ref = req.generic_one
    if ref is None:
        return default
    if ref == "all":
        if len(ids) < 2 and req.compare:
            plan.notes.append("There is only one photo so far: upload another one to compare them.")
        return ids
    if isinstance(ref, int):
        if 1 <= ref <= len(ids):
            return [ids[ref - 1]]
        plan.reply = (
            f"There is no photo {ref}: this conversation has {len(ids)} photo{'s' if len(ids) != 1 else ''}."
        )
        return None
    if ref in conv.images:
        return [ref]
    if isinstance(ref, str) and ref.startswith("img"):
        plan.reply = f"There is no image {ref} in this conversation; the photos are {', '.join(ids)}."
        return None
    if ref == "other":
        others = [i for i in ids if i not in default]
        if not others:
            if req.image == "other":  # "the other photo" with one photo
                plan.reply = "There is only one photo in this conversation so far."
                return None
            return default
        return [others[-1]]
    if ref == "latest":
        return ids[-1:]
    if ref == "previous":
        current = default[0] if default else ids[-1]
        index = ids.index(current)
        return [ids[index - 1]] if index > 0 else [current]
    return default  # "this photo"


def _resolve_face(req: Request, conv: Conversation, image_id: str, plan: Plan) -> int | None:
    ref = req.face
    if ref is None and req.generic_one is not None and (len(conv.images) < 2 or req.image is not None):
        ref = req.generic_one
    if ref is None:
        return None
    known = conv.faces.get(image_id, [])
    if isinstance(ref, int):
        if known and ref > len(known):
            count = len(known)
            plan.reply = (
                f"There {'is' if count == 1 else 'are'} only {count} face{'s' if count != 1 else ''} in "
                f"{conv.images.get(image_id, image_id)}, so there is no face {ref}."
            )
        return ref
    if ref == "other":
        if len(known) == 1:
            plan.notes.append("There is only one face in this photo.")
            return 1
        return 2 if conv.face == 1 else 1
    if ref == "last":
        return len(known) or None
    if ref in ("left", "right"):
        if not known:
            plan.notes.append(
                "I number faces by prominence (face 1 is the largest, clearest one); ask me to classify the "
                "photo to see where each face is."
            )
            return None
        centres = sorted(known, key=lambda p: (p["box"][0] + p["box"][2]) / 2)
        chosen = centres[0] if ref == "left" else centres[-1]
        return int(chosen["face"]) + 1
    return None


def _intents_for(req: Request, conv: Conversation) -> tuple[list[str], bool]:
    """The intents to act on and whether they were inherited from the last turn."""
    if req.emotion_only and req.follow_up and conv.last("explain_prediction") and not req.compare:
        return [EXPLAIN], True  # "what about sadness?" after a heatmap: the heatmap for sadness
    if req.intents:
        return list(req.intents), False
    inherits = req.has_details or req.follow_up
    if inherits and conv.last_calls:
        intents = list(dict.fromkeys(INTENT_OF[n] for n, _ in conv.last_calls if n in INTENT_OF))
        return intents, True
    if req.has_details and conv.images:
        return [CLASSIFY], False
    return [], False


def plan_turn(
    messages: Sequence[BaseMessage],
    labels: Sequence[str] | None = None,
    tools: Sequence[str] | None = None,
) -> Plan:
    """Plans the answer to the last user message of a conversation.

    Args:
        messages: the conversation, ending with (or containing) the user's message; the system
            prompt lists the photos.
        labels: the classifier's labels (emotions are resolved into them).
        tools: names of the tools available; all four when None.
    """
    last_human, images = _split_turn(messages)
    human = messages[last_human] if last_human >= 0 else HumanMessage("")
    raw = message_text(human)
    attached = [m.group("id") for m in ATTACHMENT_RE.finditer(raw)]
    text = ATTACHMENT_RE.sub("", raw).strip()
    req = understand(text, tuple(labels) if labels else None)
    plan = Plan(req)
    conv = Conversation.read(messages[: last_human + 1] if last_human >= 0 else messages, images)
    if attached:
        conv.focus, conv.face = [attached[-1]], 1
    available = set(TOOL_NAMES if tools is None else tools)

    if req.small_talk == "refuse":
        plan.reply = small_talk_text("refuse", bool(conv.images))
        return plan
    # --- video (issue 14): requests about uploaded videos are planned by agent.video_plan ---
    video = plan_video(messages[: last_human + 1] if last_human >= 0 else messages, tools)
    if video is not None:
        plan.calls, plan.reply = video
        return plan
    # --- end video ---
    intents, inherited = _intents_for(req, conv)
    if not intents:
        plan.reply = small_talk_text(req.small_talk or ("unclear" if text else "empty"), bool(conv.images))
        if attached and not text:
            intents = [CLASSIFY]  # a photo with no words: say what is on it
            plan.reply = None
        else:
            return plan
    if not conv.images:
        plan.reply = NEED_PHOTO
        return plan
    image_ids = _resolve_images(req, conv, plan)
    if image_ids is None:
        return plan
    same_focus = image_ids == [i for i in conv.focus if i in conv.images]
    for image_id in image_ids:
        face = _resolve_face(req, conv, image_id, plan)
        if plan.reply:
            return plan
        default_face = face or (conv.face if same_focus else 1)
        for intent in intents:
            name = TOOL_OF[intent]
            if name not in available:
                if _MISSING[name] not in plan.notes:
                    plan.notes.append(_MISSING[name])
                continue
            if intent == CLASSIFY:
                args: dict[str, Any] = {"image_id": image_id}
                if face is not None:
                    args["face"] = face
                plan.calls.append((name, args))
            elif intent == EXPLAIN:
                plan.calls.append((name, _explain_args(req, conv, image_id, default_face, inherited)))
            elif intent == ASK:
                questions = req.questions or [
                    a.get("question")
                    for n, a in conv.last_calls
                    if n == "answer_question" and a.get("question")
                ]
                for question in questions[:3] or [text or "Describe the face."]:
                    plan.calls.append(
                        (name, {"image_id": image_id, "question": question, "face": default_face})
                    )
            elif intent == DESCRIBE:
                plan.calls.append((name, {"image_id": image_id, "face": default_face}))
    if len(plan.calls) > MAX_CALLS:
        plan.calls = plan.calls[:MAX_CALLS]
        plan.notes.append(
            f"I ran the first {MAX_CALLS} of the requested analyses; ask for the rest separately."
        )
    if not plan.calls:
        plan.reply = " ".join(plan.notes) or small_talk_text("unclear", True)
    return plan


def _explain_args(
    req: Request, conv: Conversation, image_id: str, face: int, inherited: bool
) -> dict[str, Any]:
    args: dict[str, Any] = {"image_id": image_id, "face": face}
    last = conv.last("explain_prediction") or {}
    carry = (inherited or req.follow_up) and last.get("image_id") == image_id
    target = req.target or (last.get("target") if carry and not req.versus else None)
    method = req.method or (last.get("method") if carry else None)
    versus = req.versus or (last.get("versus") if carry and not req.target else None)
    if target:
        args["target"] = target
    if versus and versus != target:
        args["versus"] = versus
    if method:
        args["method"] = method
    return args


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
    """A rule-based chat model that plans tool calls and writes answers from their results.

    Deterministic and offline; the default model of ``ChatSession``. Standard chat-model
    parameters (temperature, max_tokens ...) are accepted and ignored.

    Attributes:
        model_name: the name reported in traces.
        labels: the classifier's labels, to resolve emotions into; basic + compound when None.
    """

    model_name: str = "offline-planner"
    labels: list[str] | None = None
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
        last_human, images = _split_turn(messages)
        turn = messages[last_human + 1 :] if last_human >= 0 else []
        # --- video (issue 14): a frame taken from a video is analysed next, in the same turn ---
        follow = video_follow_up(messages, self.labels, tools) if turn else []
        if follow:
            calls = [
                {"name": name, "args": args, "id": f"call_{uuid.uuid4().hex[:12]}", "type": "tool_call"}
                for name, args in follow
            ]
            return ChatResult(generations=[ChatGeneration(message=AIMessage("", tool_calls=calls))])
        # --- end video ---
        if any(isinstance(m, ToolMessage) for m in turn):
            message = AIMessage(self._answer(messages, last_human, images, tools))
        else:
            plan = plan_turn(messages, self.labels, tools)
            if plan.calls:
                calls = [
                    {"name": name, "args": args, "id": f"call_{uuid.uuid4().hex[:12]}", "type": "tool_call"}
                    for name, args in plan.calls
                ]
                message = AIMessage("", tool_calls=calls)
            else:
                message = AIMessage(plan.reply or "")
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _answer(
        self, messages: list[BaseMessage], last_human: int, images: dict[str, str], tools: list[str] | None
    ) -> str:
        plan = plan_turn(messages[: last_human + 1], self.labels, tools)
        results = collect_results(messages[last_human + 1 :])
        return compose_answer(results, plan.request, images, plan.notes)
