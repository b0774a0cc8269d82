"""Planning: from an understood message and the discourse state to tool calls or a direct reply.

``plan_turn`` reads the conversation (``agent.discourse``), understands the last user message
(``agent.understanding``) and decides, in this order:

1. a request this product declines (``tools.boundaries``): the reason and what it can do instead; a
   monitoring context (employees, candidates, pupils) keeps later analysis of that conversation's
   media declined;
2. a refused request (files, code, the web), small talk, a question about the product (answered
   from ``agent.knowledge``), or a question back when understanding is unsure;
3. a request about a video (``agent.planning.video``);
4. a request about photos (``agent.planning.photos``).

``video_follow_up`` plans the photo tools on a frame just taken from a video, in the same turn.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage

from agent.compose import NEED_PHOTO, small_talk_text
from agent.discourse import Conversation, names_list, split_turn
from agent.knowledge import answer as knowledge_answer
from agent.planning.photos import (
    INTENT_OF,
    MAX_CALLS,
    TOOL_OF,
    Plan,
    intents_for,
    pending_request,
    plan_photos,
)
from agent.planning.video import plan_video
from agent.prompts import ATTACHMENT_RE, VIDEO_ATTACHMENT_RE, attachment_note, system_prompt
from agent.results import message_text
from agent.understanding import understand
from agent.understanding.rules import CLASSIFY, DEFAULT_LABELS, EXPLAIN, WHO_RE, Request
from agent.understanding.topics import topic_of
from agent.understanding.video import understand_video
from tools import boundaries
from tools.lc import TOOL_NAMES

__all__ = ["Plan", "plan_turn", "video_follow_up", "TOOL_OF", "INTENT_OF", "MAX_CALLS", "clarify_text"]

_PHOTO_TOOLS = {"classify_emotion", "explain_prediction", "answer_question", "describe_face"}
_ACT_WORDS = {
    "analyze": "read the faces in your photo",
    "refuse": "do something outside this app",
    "chat/help": "list what I can do",
    "chat/greeting": "say hello",
    "chat/thanks": "just say thanks",
    "chat/bye": "end here",
}
_DEMO_RE = re.compile(
    r"\b(?:drama|demo\w*|demonstrat\w*|example\s+of|teach\w*\s+(?:them|the\s+class|about)|lesson\s+on|"
    r"what\s+(?:\w+\s+)?(?:surprise|fear|anger|happiness|sadness|disgust|joy|an?\s+\w+\s+face|\w+)\s+looks?\s+like)\b",
    re.IGNORECASE,
)
_THIS_HEATMAP_RE = re.compile(
    r"\b(?:this|that|the|your|its)\s+(?:particular\s+|specific\s+|one\s+|last\s+)?(?:heat\s*maps?|explanations?|maps?)\b",
    re.IGNORECASE,
)
_SEVERAL_RE = re.compile(
    r"\b(?:each|every|all|both|them|they|these|those|photos|pictures|pics|images|portraits|shots|ones|two|three|four|five|six)\b",
    re.IGNORECASE,
)
_GO_ON_RE = re.compile(
    r"^\W*(?:ok(?:ay)?|yes|yeah|sure|great|then|so)?[\s,!.]*(?:show\s+(?:me|it|one|us)|let'?s\s+see(?:\s+it)?|do\s+it|"
    r"go\s+ahead|yes\s+please|please\s+do|try\s+it)(?:\s+please)?\W*$",
    re.IGNORECASE,
)


def _act_words(act: str) -> str:
    if act in _ACT_WORDS:
        return _ACT_WORDS[act]
    kind, _, topic = act.partition("/")
    if kind == "product":
        return f"explain {'how the app handles ' + topic if topic in ('privacy', 'formats', 'live', 'offline') else 'the ' + topic}"
    if kind == "boundary":
        return f"judge {topic}, which I don't do"
    return act


def clarify_text(req: Request, has_media: bool) -> str:
    """A question back when understanding is unsure: the two likeliest readings (never an offer to
    judge what the product declines)."""
    options = [a for a in [req.act] + [a for a, _ in req.alternatives] if a and not a.startswith("boundary/")]
    options = list(dict.fromkeys(options))[:2]
    if not options:
        return small_talk_text("unclear", has_media)
    asked = " or to ".join(_act_words(a) for a in options)
    return f"I'm not sure I understood: do you want me to {asked}? " + (
        'For example: "what is she feeling?", "why?", "is the mouth open?".'
        if has_media
        else 'Type "help" to see what I can do.'
    )


def _go_on(history: Sequence[BaseMessage]) -> list[str]:
    """What "show me" / "go ahead" asks for after a question about the product: its demonstration."""
    previous = [m for m in history if isinstance(m, HumanMessage)]
    if not previous:
        return []
    topic = topic_of(ATTACHMENT_RE.sub("", message_text(previous[-1])).strip())
    if topic in ("gradcam", "faithfulness"):
        return [EXPLAIN]
    if topic:
        return [CLASSIFY]
    return []


def _who(
    req: Request, history: Sequence[BaseMessage], labels: Sequence[str] | None, names: Mapping[str, str]
) -> None:
    """ "Who?" / "which one?" after "is anyone smiling?": the face (or photo) that reads it most."""
    previous = [m for m in history if isinstance(m, HumanMessage)]
    if not previous:
        return
    text = VIDEO_ATTACHMENT_RE.sub("", ATTACHMENT_RE.sub("", message_text(previous[-1]))).strip()
    before = understand(text, labels, names)
    emotion = before.comparative or before.target or (before.emotions[0] if before.emotions else None)
    if emotion:
        req.intents, req.shape, req.comparative, req.compare = [CLASSIFY], "rank", emotion, True
        req.emotions = [emotion]
        req.image = req.image or "all"


_VIDEO_ASKED_RE = re.compile(
    r"^\W*(?:and|what\s+about|how\s+about)\s+(?:the|this|that)\s+(?:video|clip|movie|recording)\b", re.I
)


def _carry_question(
    req: Request, history: Sequence[BaseMessage], labels: Sequence[str] | None, names: Mapping[str, str]
) -> None:
    """A follow-up that names only what changed ("and the first photo?") keeps the last question's shape:
    the ranking, the yes/no, the emotion asked about."""
    previous = [m for m in history if isinstance(m, HumanMessage)]
    if not previous:
        return
    text = VIDEO_ATTACHMENT_RE.sub("", ATTACHMENT_RE.sub("", message_text(previous[-1]))).strip()
    before = understand(text, labels, names)
    if before.boundary or before.knowledge or not (before.shape or before.comparative or before.emotions):
        return
    req.shape, req.comparative, req.target = before.shape, before.comparative, before.target
    req.emotions = list(before.emotions)
    if req.face is None and req.appearance is None and req.generic_one is None:
        req.anyone, req.everyone = before.anyone or req.anyone, before.everyone or req.everyone
    req.compare = req.compare or (before.compare and before.shape == "rank")


def _decline(
    plan: Plan,
    req: Request,
    conv: Conversation,
    attached: Sequence[str],
    attached_videos: Sequence[str],
    ran: Sequence[tuple[str, dict]],
) -> Plan:
    category = req.boundary or "surveillance"
    plan.declined = category
    if category == "surveillance":
        # monitoring someone shown in an upload: later requests about that upload are declined too
        media = list(attached) + list(attached_videos)
        if not media and re.search(
            r"\b(?:this|that|the|his|her|their)\s+(?:video|clip|recording|photo|picture|interview)\b",
            req.text,
            re.I,
        ):
            media = [conv.focus_video] if conv.focus_video else list(conv.focus)
        plan.declined_media = [m for m in media if m]
    text = boundaries.decline_text(category)
    if attached_videos and req.follow_up and category not in ("surveillance", "code"):
        # "and this one, is it the same guy?": decline the question, and still tell the new video's story
        plan.lead = text
        call = ("analyze_video", {"video_id": attached_videos[-1], "focus": "summary"})
        plan.calls = [call] if call not in ran else []
        return plan
    plan.reply = text
    return plan


_CONFIDENCE_RE = re.compile(
    r"\bhow\s+(?:sure|confident|certain)\b|\bare\s+(?:you|u)\s+(?:sure|confident|certain)\b", re.I
)
_ABOUT_MODEL_RE = re.compile(
    r"\b(?:accura\w*|reliab\w*|in\s+general|usually|overall|trust|often|tested)\b", re.I
)


def plan_turn(
    messages: Sequence[BaseMessage],
    labels: Sequence[str] | None = None,
    tools: Sequence[str] | None = None,
    model_info: Mapping[str, Any] | None = None,
) -> Plan:
    """Plans the answer to the last user message of a conversation.

    The messages may already hold this turn's tool calls and results: the plan then holds only the
    calls still to make (after a look-up of the faces, the calls that needed it), and ``where`` /
    ``chosen`` describe the faces for the answer.

    Args:
        messages: the conversation, ending with (or containing) the user's message; the system
            prompt lists the photos and videos.
        labels: the classifier's labels (emotions are resolved into them).
        tools: names of the tools available; all of them when None.
        model_info: the classifier's model card, for questions about the model.
    """
    last_human, images = split_turn(messages)
    human = messages[last_human] if last_human >= 0 else HumanMessage("")
    raw = message_text(human)
    attached = [m.group("id") for m in ATTACHMENT_RE.finditer(raw)]
    attached_videos = [m.group("id") for m in VIDEO_ATTACHMENT_RE.finditer(raw)]
    text = VIDEO_ATTACHMENT_RE.sub("", ATTACHMENT_RE.sub("", raw)).strip()
    history = messages[: last_human + 1] if last_human >= 0 else messages
    turn = messages[last_human + 1 :] if last_human >= 0 else []
    conv = Conversation.read(history, images)
    conv.absorb(turn)
    names = {**conv.images, **conv.videos}
    label_tuple = tuple(labels) if labels else None
    req = understand(text, label_tuple, names)
    plan = Plan(request=req)
    if not req.intents and not req.knowledge and _GO_ON_RE.match(text):
        req.intents = _go_on(history[:-1])
    if not req.intents and WHO_RE.match(text):
        _who(req, history[:-1], label_tuple, names)
    if attached:
        # photos attached together are the subject together when the message speaks of several
        together = len(attached) > 1 and _SEVERAL_RE.search(text) is not None
        conv.focus, conv.face, conv.focus_video = list(attached) if together else attached[-1:], None, None
    available = set(TOOL_NAMES if tools is None else tools)
    ran = [
        (c["name"], dict(c.get("args") or {})) for m in turn if isinstance(m, AIMessage) for c in m.tool_calls
    ]
    has_media = bool(conv.images or conv.videos)

    if req.boundary:
        return _decline(plan, req, conv, attached, attached_videos, ran)
    if req.knowledge and req.knowledge.startswith("emotion:") and conv.images and not topic_of(text):
        # "could it be fear instead?" about a photo: that emotion's score, not its definition
        req.knowledge, req.intents, req.act = None, [CLASSIFY], "analyze"
    if req.follow_up and not (
        req.emotions or req.shape or req.knowledge or req.boundary or req.method or req.small_talk
    ):
        _carry_question(req, history[:-1], label_tuple, names)  # "and the first pic, same question"
    if (
        req.knowledge == "accuracy"
        and conv.images
        and _CONFIDENCE_RE.search(text)
        and not _ABOUT_MODEL_RE.search(text)
    ):
        req.knowledge, req.intents, req.act = (
            None,
            [CLASSIFY],
            "analyze",
        )  # "how sure are you?" about the reading
    if req.small_talk == "refuse":
        plan.reply = small_talk_text("refuse", has_media)
        return plan
    over_time = understand_video(req.text) if conv.videos else None
    if over_time is not None and over_time.kind in ("timeline", "changes", "peak", "frame"):
        # "can I export the per-frame data for clip2?" with a video here: the video answers it
        req.knowledge, req.clarify = None, False
    if req.knowledge == "faithfulness" and conv.images and _THIS_HEATMAP_RE.search(text):
        # "is that heatmap faithful, or just pretty?": this heatmap's faithfulness, said in words
        req.knowledge, req.intents, req.act = None, [EXPLAIN], "analyze"
    if req.knowledge:
        plan.reply = knowledge_answer(req.knowledge, list(labels or DEFAULT_LABELS), model_info)
        return plan
    about_declined = conv.declined_media & ({conv.focus_video} | set(conv.focus))
    if (
        conv.declined == "surveillance"
        and about_declined
        and (req.intents or req.follow_up or req.has_details)
        and not attached
        and not _DEMO_RE.search(text)  # "for drama class then, show them what surprise looks like"
    ):
        plan.declined = "surveillance"
        plan.reply = (
            "As I said, I don't read the emotions of job candidates, employees or pupils for decisions about "
            "them, frame by frame or otherwise. " + boundaries.EU_AI_ACT_NOTE
        )
        return plan
    if pending_request(req, conv, lambda t: understand(t, label_tuple, names)):
        pass  # "number 2": the request that waited for a face number
    elif req.clarify and not attached and not attached_videos:
        plan.reply = clarify_text(req, has_media)
        return plan
    if not conv.videos and _VIDEO_ASKED_RE.search(text) and not attached_videos:
        plan.reply = 'There is no video in this conversation yet: attach one (MP4, MOV, WebM, MKV, AVI) and ask "what happens in the video?".'
        return plan
    video = plan_video(req, conv, text, attached_videos, attached, tools)
    if video is not None:
        calls, plan.reply = video
        plan.calls = [(name, args) for name, args in calls if (name, dict(args)) not in ran]
        return plan
    intents, inherited = intents_for(req, conv)
    if not intents:
        plan.reply = small_talk_text(req.small_talk or ("unclear" if text else "empty"), has_media)
        if attached and req.small_talk in (None, "empty", "thanks"):
            # a photo with no request ("", "here", "ok, quick smoke test", "thanks! one more"): what is on it
            intents = [CLASSIFY]
            plan.reply = None
        else:
            return plan
    if not conv.images:
        plan.reply = (
            NEED_PHOTO
            if not conv.videos
            else (
                f"There is no photo here, only {names_list(list(conv.videos.values()))}: ask about the video "
                '("what happens in the video?", "what is she feeling at 0:05?").'
            )
        )
        return plan
    if attached and EXPLAIN in intents and CLASSIFY not in intents and req.versus:
        intents = [
            CLASSIFY,
            *intents,
        ]  # "why would it say disgust rather than anger?" about a new photo: its reading too
    plan_photos(req, conv, plan, text, intents, inherited, ran, available)
    if not plan.calls and not ran and not plan.reply and not plan.lead:
        plan.reply = " ".join(plan.notes) or small_talk_text("unclear", True)
    return plan


def _without_time(text: str) -> str:
    from agent.understanding.video import FRAME_RE, MOMENT_RE

    stripped = MOMENT_RE.sub(" ", FRAME_RE.sub(" ", text))
    stripped = re.sub(
        r"\b(?:in|of|on)\s+(?:the\s+)?(?:video|clip|footage|vid\d+)\b", " ", stripped, flags=re.I
    )
    return " ".join(stripped.split()).strip(" ,.")


def video_follow_up(
    messages: Sequence[BaseMessage], labels: Sequence[str] | None = None, tools: Sequence[str] | None = None
) -> list[tuple[str, dict]]:
    """The photo-tool calls to run on frames this turn took from videos (none when already run).

    Args:
        messages: the conversation, ending with this turn's tool messages.
        labels: the classifier's labels.
        tools: the names of the available tools.
    """
    humans = [i for i, m in enumerate(messages) if isinstance(m, HumanMessage)]
    if not humans:
        return []
    turn = messages[humans[-1] + 1 :]
    used = {
        (call.get("args") or {}).get("image_id")
        for m in turn
        if isinstance(m, AIMessage)
        for call in m.tool_calls
        if call["name"] in _PHOTO_TOOLS
    }
    frames = [
        m.artifact
        for m in turn
        if isinstance(m, ToolMessage)
        and m.name == "video_frame"
        and isinstance(m.artifact, dict)
        and m.artifact.get("image_id")
        and "error" not in m.artifact
    ]
    calls: list[tuple[str, dict]] = []
    photo_tools = None if tools is None else [t for t in tools if t in _PHOTO_TOOLS]
    raw = message_text(messages[humans[-1]])
    text = _without_time(VIDEO_ATTACHMENT_RE.sub("", ATTACHMENT_RE.sub("", raw)).strip())
    for artifact in frames:
        image_id = artifact["image_id"]
        if image_id in used or artifact.get("face_count") == 0:
            continue
        name = str(artifact.get("name") or image_id)
        synthetic = [
            SystemMessage(system_prompt({image_id: name})),
            HumanMessage((attachment_note(image_id, name) + "\n" + text).strip()),
        ]
        plan = plan_turn(synthetic, labels, photo_tools if photo_tools is not None else sorted(_PHOTO_TOOLS))
        calls.extend((n, a) for n, a in plan.calls if n in _PHOTO_TOOLS)
    return calls
