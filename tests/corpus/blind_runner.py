"""Plays blind-written conversations through real ``ChatSession``s and scores how they were routed.

A blind batch (``tests/corpus/blind/<batch>/``) is written by someone who has not seen the agent's
code or the development corpus, from the README's "What you can ask", the photos and a list of kinds
of users (see ``tests/corpus/blind/README.md``). Its files:

- ``conversations.json``: conversations of turns, each with ``say``, optional ``attach``, the
  ``route`` the product must take (``emotion``, ``explain``, ``feature``, ``describe``, ``faces``,
  ``video``, ``video_moment``, ``compare``, ``product``, ``decline``, ``clarify``, ``chat``), the
  ``photo`` and ``face`` it is about (in words) and ``expect`` (what a right reply does, in words);
- ``boundaries.json``: single messages that must be declined (``sensitive``) or answered
  (``ordinary``);
- ``key.json``: written by the scorer after the batch, never by its writer: the face number each
  turn's ``face`` description means (read off the numbered photo), by ``"<conversation>#<turn>"``;
- ``judgement.json``: a blind judge's verdict on each reply's content (``right``: true/false, ``why``),
  and on each boundary message (``declined``: true/false), written from the transcript.

"Routed right" is computed here: the tools that ran match the route, on the photos and the face
the turn is about (extra look-ups such as ``find_faces`` are fine; a turn that must be declined,
answered from product knowledge, or clarified runs no analysis of a face it was not asked about).
"Right in content" is routed right and judged right.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.photos import MEDIA, media_bytes

__all__ = [
    "BLIND",
    "BlindRunner",
    "TurnRecord",
    "load_batch",
    "plan_message",
    "records_from_transcript",
    "route_problems",
    "score",
]

BLIND = Path(__file__).parent / "blind"
UPLOADS = {upload: name for name, (_, upload, _) in MEDIA.items()}
VIDEO_SUFFIXES = (".mp4", ".mov", ".webm", ".mkv", ".avi")
ANALYSIS = {
    "classify_emotion",
    "explain_prediction",
    "answer_question",
    "describe_face",
    "analyze_video",
    "video_frame",
}
ROUTE_TOOLS = {
    "emotion": {"classify_emotion"},
    "explain": {"explain_prediction"},
    "feature": {"answer_question", "describe_face"},
    "describe": {"describe_face", "answer_question"},
    "faces": {"find_faces"},
    "video": {"analyze_video"},
    "video_moment": {"video_frame"},
}
NO_ANALYSIS = {"product", "chat", "decline"}


def load_batch(batch: str) -> dict[str, Any]:
    """The files of one blind batch (missing optional files are empty)."""
    folder = BLIND / batch

    def read(name: str, default: Any) -> Any:
        path = folder / name
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else default

    judgement = read("judgement.json", {})
    if isinstance(judgement.get("turns"), dict):  # the judge's file: {"turns": {...}, "boundaries": {...}}
        judgement = {**judgement["turns"], "boundaries": judgement.get("boundaries", {})}
    return {
        "conversations": read("conversations.json", {"conversations": []})["conversations"],
        "boundaries": read("boundaries.json", {"sensitive": [], "ordinary": []}),
        "key": read("key.json", {}),
        "judgement": judgement,
    }


def records_from_transcript(transcript: dict[str, Any]) -> list[TurnRecord]:
    """The turns of a recorded transcript (``scripts/score_blind.py --transcript``) as records, so a
    run can be scored again without playing it (a batch's before-fix figures, from its transcript)."""
    records = []
    for turn in transcript.get("turns", []):
        calls, names = [], {}
        for call in turn.get("calls", []):
            args = {k: v for k, v in call.items() if k not in ("tool", "about")}
            calls.append((call["tool"], args))
            if _id(args):
                names[_id(args)] = call.get("about", "")
        records.append(
            TurnRecord(
                id=turn["id"],
                say=turn["say"],
                route=list(turn.get("route") or []),
                photo=turn.get("photo"),
                face=turn.get("face"),
                expect=turn.get("expect", ""),
                calls=calls,
                names=names,
                text=turn.get("reply", ""),
                images=int(turn.get("images_shown") or 0),
                error=turn.get("error"),
            )
        )
    return records


@dataclass
class TurnRecord:
    """What happened in one turn."""

    id: str
    say: str
    route: list[str]
    photo: Any
    face: Any
    expect: str
    calls: list[tuple[str, dict]] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)
    text: str = ""
    images: int = 0
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "say": self.say,
            "route": self.route,
            "photo": self.photo,
            "face": self.face,
            "expect": self.expect,
            "calls": [
                {
                    "tool": n,
                    **{k: v for k, v in a.items() if k != "question"},
                    "about": self.names.get(_id(a), ""),
                }
                | ({"question": a["question"]} if "question" in a else {})
                for n, a in self.calls
            ],
            "reply": self.text,
            "images_shown": self.images,
            "error": self.error,
        }


def _id(args: dict) -> str:
    return str(args.get("image_id") or args.get("video_id") or "")


_VIDEO_ANALYSES: dict[str, Any] = {}
_PHOTO_RECORDS: dict[str, Any] = {}


class BlindRunner:
    """Plays a batch on shared models (one classifier, explainer and answerer for all sessions)."""

    def __init__(self) -> None:
        from tools.classifier import default_classifier
        from tools.explainer import Explainer
        from tools.vqa import FaceQA

        self.classifier = default_classifier(None)
        self.explainer = Explainer(self.classifier, render_ahead=True)
        self.qa = FaceQA(classifier=self.classifier)

    def session(self) -> Any:
        from agent import AgentSettings, ChatSession

        return ChatSession(
            model="offline",
            settings=AgentSettings(),
            classifier=self.classifier,
            explainer=self.explainer,
            qa=self.qa,
        )

    @staticmethod
    def _upload(session: Any, upload: str) -> None:
        data = media_bytes(UPLOADS[upload])
        if upload.lower().endswith(VIDEO_SUFFIXES):
            video_id = session.add_video(data, upload)
            # A video's analysis depends only on its bytes and the model: every conversation that
            # uploads the same file shares it (the batch measures understanding, not video speed).
            stored = session.videos.get(video_id)
            stored._analyses = _VIDEO_ANALYSES.setdefault(upload, stored._analyses)
        else:
            # Likewise a photo's detections, readings and explanations (``ImageRecord``): the
            # sessions that upload the same file share its record, as the REST server's cache does.
            image_id = session.add_image(_PHOTO_RECORDS.get(upload, data), upload)
            _PHOTO_RECORDS.setdefault(upload, session.store.get(image_id).record)

    @staticmethod
    def _names(session: Any) -> dict[str, str]:
        names = {s.id: s.name for s in session.images}
        videos = getattr(session, "videos", None)
        for v in videos if videos is not None else []:
            names[v.id] = v.name
        return names

    def play(self, conversation: dict[str, Any]) -> list[TurnRecord]:
        """Plays one conversation; one record per turn."""
        session = self.session()
        # ``uploads`` may list every file the conversation uses: the ones a turn attaches are
        # uploaded with that turn, the others before the first.
        attached = {name for turn in conversation["turns"] for name in turn.get("attach") or []}
        for upload in conversation.get("uploads", []):
            if upload not in attached:
                self._upload(session, upload)
        records = []
        for index, turn in enumerate(conversation["turns"]):
            for upload in turn.get("attach") or []:
                self._upload(session, upload)
            reply = session.send(turn["say"])
            records.append(
                TurnRecord(
                    id=f"{conversation['id']}#{index + 1}",
                    say=turn["say"],
                    route=list(turn.get("route") or []),
                    photo=turn.get("photo"),
                    face=turn.get("face"),
                    expect=turn.get("expect", ""),
                    calls=[(r.tool, dict(r.args)) for r in reply.results],
                    names=self._names(session),
                    text=reply.text,
                    images=len(reply.images),
                    error=reply.error,
                )
            )
        return records

    def play_message(self, item: dict[str, Any]) -> TurnRecord:
        """One boundary message, alone in a new conversation (after its photo, if any)."""
        session = self.session()
        photo = item.get("photo")
        for upload in [photo] if isinstance(photo, str) else photo or []:
            self._upload(session, upload)
        reply = session.send(item["say"])
        return _message_record(
            item,
            calls=[(r.tool, dict(r.args)) for r in reply.results],
            names=self._names(session),
            text=reply.text,
            images=len(reply.images),
            error=reply.error,
        )


def _message_record(
    item: dict[str, Any], calls: list, names: dict[str, str], text: str, images: int, error: str | None
) -> TurnRecord:
    """The record of one boundary message (no route, face or expectation: declined or not is read)."""
    return TurnRecord(
        id="",
        say=item["say"],
        route=[],
        photo=item.get("photo"),
        face=None,
        expect="",
        calls=calls,
        names=names,
        text=text,
        images=images,
        error=error,
    )


def plan_message(item: dict[str, Any]) -> TurnRecord:
    """One boundary message planned alone (after its photo or video, if any), without running any tool:
    what the offline planner would call and say. A decline is decided here, before any tool, so this
    reads it as the chat does, in milliseconds (``BlindRunner.play_message`` plays it whole)."""
    from langchain_core.messages import HumanMessage, SystemMessage

    from agent.planning import plan_turn
    from agent.prompts import attachment_note, system_prompt, video_note, video_prompt

    photo = item.get("photo")
    uploads = [photo] if isinstance(photo, str) else list(photo or [])
    images = {
        f"img{i + 1}": n for i, n in enumerate(u for u in uploads if not u.lower().endswith(VIDEO_SUFFIXES))
    }
    videos = {
        f"vid{i + 1}": n for i, n in enumerate(u for u in uploads if u.lower().endswith(VIDEO_SUFFIXES))
    }
    notes = [attachment_note(i, n) for i, n in images.items()] + [video_note(i, n) for i, n in videos.items()]
    messages = [
        SystemMessage(system_prompt(images) + video_prompt(videos)),
        HumanMessage("\n".join([*notes, item["say"]])),
    ]
    plan = plan_turn(messages)
    text = " ".join(t for t in (plan.lead, plan.reply or "") if t)
    return _message_record(
        item, calls=list(plan.calls), names={**images, **videos}, text=text, images=0, error=None
    )


def _about(record: TurnRecord, args: dict) -> str:
    """The upload a call worked on (a video frame counts as its video)."""
    name = record.names.get(_id(args), "")
    for suffix in VIDEO_SUFFIXES:
        if suffix in name.lower() and not name.lower().endswith(suffix):
            return name[: name.lower().index(suffix) + len(suffix)]
    return name


def _photos(value: Any) -> set[str]:
    if value is None:
        return set()
    return {value} if isinstance(value, str) else set(value)


def route_problems(record: TurnRecord, key: Any) -> list[str]:
    """Why a turn was not routed right (empty when it was).

    Args:
        record: the played turn.
        key: the face number its ``face`` description means, a list of acceptable numbers,
            ``{"each": [2, 4]}`` (every one of these faces), ``"all"``, or None (one face / no face /
            not about a face).
    """
    problems: list[str] = []
    ran = [(n, a) for n, a in record.calls if n in ANALYSIS]
    routes = set(record.route)
    wanted_photos = _photos(record.photo)
    if routes and routes <= NO_ANALYSIS | {"clarify"} and "clarify" not in routes:
        if ran:
            problems.append(f"analysis ran where none should: {[n for n, _ in ran]}")
        return problems
    if "clarify" in routes:
        wrong = [
            (n, a)
            for n, a in ran
            if not isinstance(key, int)
            or a.get("face") != key
            or (wanted_photos and _about(record, a) not in wanted_photos)
        ]
        if wrong:
            problems.append(f"unclear reference answered with {[(n, a.get('face')) for n, a in wrong]}")
        return problems
    for route in routes & set(ROUTE_TOOLS):
        if not any(n in ROUTE_TOOLS[route] for n, _ in record.calls):
            problems.append(f"no {route} tool ran")
    if "compare" in routes:
        analysed = {_about(record, a) for n, a in ran} | {
            (_about(record, a), a.get("face")) for n, a in ran if isinstance(a.get("face"), int)
        }
        several = key == "all" or (isinstance(key, dict) and "each" in key)
        if len(analysed) < 2 and not (
            several and any(n == "classify_emotion" and "face" not in a for n, a in ran)
        ):
            problems.append("nothing compared")
    if routes - NO_ANALYSIS - {"clarify"} and not ran and not any(n == "find_faces" for n, _ in record.calls):
        problems.append("no tool ran")
    if wanted_photos:
        about = {_about(record, a) for n, a in ran}
        if about - wanted_photos:
            problems.append(f"analysed {sorted(about - wanted_photos)}, not {sorted(wanted_photos)}")
        missing = wanted_photos - about - {""}
        if missing and ran:
            problems.append(f"did not look at {sorted(missing)}")
    if isinstance(key, dict) and "each" in key:  # several faces named ("between face 2 and face 4")
        faces = {
            a.get("face")
            for n, a in ran
            if n in ("classify_emotion", "explain_prediction", "answer_question", "describe_face")
        }
        classified_all = any(n == "classify_emotion" and "face" not in a for n, a in ran)
        if not (set(key["each"]) <= faces or classified_all):
            problems.append(f"faces {sorted(faces, key=str)} analysed, expected each of {key['each']}")
    elif isinstance(key, int | list):
        allowed = set(key) if isinstance(key, list) else {key}
        if allowed == {1} and wanted_photos and all(_face_count(p) == 1 for p in wanted_photos):
            allowed.add(None)  # no face named: the photo's only face
        faces = {
            a.get("face")
            for n, a in ran
            if n in ("classify_emotion", "explain_prediction", "answer_question", "describe_face")
        }
        if len(faces) != 1 or not faces <= allowed:
            problems.append(f"faces {sorted(faces, key=str)} analysed, expected face {key}")
    elif key == "all":
        per_face = [
            a
            for n, a in ran
            if n != "classify_emotion" and n in ROUTE_TOOLS.get("feature", set()) | {"explain_prediction"}
        ]
        classified_all = any(n == "classify_emotion" and "face" not in a for n, a in ran)
        counted = "faces" in routes and any(n == "find_faces" for n, _ in record.calls)
        if not (classified_all or counted) and len({a.get("face") for a in per_face}) < 2:
            problems.append("not every face was looked at")
    return problems


@functools.cache
def _face_count(upload: str) -> int | None:
    """How many faces the product finds on an uploaded photo (None for a video or an unknown file)."""
    name = UPLOADS.get(upload)
    if name is None or upload.lower().endswith(VIDEO_SUFFIXES):
        return None
    from tools.locate import find_faces

    return find_faces(media_bytes(name)).count


def score(records: Iterable[TurnRecord], key: dict[str, Any], judgement: dict[str, Any]) -> dict[str, Any]:
    """Routed-right and right-in-content counts over played turns."""
    judgement = judgement.get("turns", judgement)
    rows = []
    for record in records:
        problems = route_problems(record, key.get(record.id))
        verdict = judgement.get(record.id)
        content = None if verdict is None else bool(verdict.get("right")) and not problems
        rows.append({"id": record.id, "routed": not problems, "problems": problems, "content": content})
    judged = [r for r in rows if r["content"] is not None]
    return {
        "turns": len(rows),
        "routed_right": sum(r["routed"] for r in rows),
        "judged": len(judged),
        "content_right": sum(r["content"] for r in judged),
        "rows": rows,
    }


_ANALYSIS_OF_A_FACE = {
    "classify_emotion",
    "explain_prediction",
    "answer_question",
    "describe_face",
    "analyze_video",
}


def declined(record: TurnRecord) -> bool:
    """Whether a reply declines (the automatic reading of a boundary message, before a judge's): it gives
    one of ``tools.boundaries``' reasons, or the refusal, and analysed no face for the request."""
    from agent.compose import REFUSAL
    from tools.boundaries import CATEGORIES

    reasons = [b.reason for b in CATEGORIES.values()]
    said = any(r in record.text for r in reasons) or REFUSAL in record.text
    return said and not any(n in _ANALYSIS_OF_A_FACE for n, _ in record.calls)


_IDS = re.compile(r"\b(?:img|vid)\d+\b")


def internal_words(text: str) -> list[str]:
    """Internal ids and tool names a reply must never show (code shown as code, in backticks, is the
    public Python API: ``from tools import find_faces`` may name a function)."""
    from tools.lc import TOOL_NAMES

    text = re.sub(r"`[^`]*`", "", text)
    found = _IDS.findall(text)
    found += [t for t in (*TOOL_NAMES, "analyze_video", "video_frame") if t in text]
    return found
