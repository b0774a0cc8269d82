"""Runs the conversation corpus through real ``ChatSession``s and scores each turn.

A turn is right when the tools that ran are exactly the expected ones, in order, with the expected
arguments, and every check on the answer holds. The format is described in tests/corpus/README.md.

Everything is real: the offline planner inside LangChain's agent loop, the real tools on the real
photos of ``tests.photos``. One classifier, explainer and question answerer and one decoded record
per photo are shared by all conversations, so each photo is detected and classified once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent import AgentSettings, ChatSession, Reply
from tests.photos import photo
from tools.analysis import AnalysisCache, ImageRecord
from tools.errors import NoFaceError

__all__ = ["CorpusRunner", "TurnOutcome", "load", "SPLITS", "FILE_NAMES"]

HERE = Path(__file__).parent
SPLITS = {"heldout": HERE / "heldout.json", "dev": HERE / "dev.json"}
FILE_NAMES = {
    "astronaut": "astronaut.jpg",
    "grace": "grace_hopper.jpg",
    "pair": "pair.png",
    "trio": "group.png",
    "coffee": "coffee.png",
}
TOOLS = {
    "C": "classify_emotion",
    "E": "explain_prediction",
    "A": "answer_question",
    "D": "describe_face",
    "F": "find_faces",
}
_YES_NO = re.compile(r"^\W*(yes|no)\b", re.IGNORECASE)


def load(split: str) -> list[dict[str, Any]]:
    """The conversations of one split (``heldout`` or ``dev``)."""
    return json.loads(SPLITS[split].read_text(encoding="utf-8"))["conversations"]


@dataclass
class TurnOutcome:
    """One scored turn."""

    conversation: str
    index: int
    say: str
    ok: bool
    problems: list[str] = field(default_factory=list)
    calls: list[tuple[str, dict]] = field(default_factory=list)
    text: str = ""


def _plain(text: str) -> str:
    return re.sub(r"\*\*|(?<!\w)\*|\*(?!\w)|`", "", text)


def _first_sentence(text: str) -> str:
    line = next((ln for ln in _plain(text).splitlines() if ln.strip()), "")
    return re.split(r"(?<=[.!?])\s+", line.strip(), maxsplit=1)[0]


class CorpusRunner:
    """Plays corpus conversations on shared models and photos.

    Args:
        settings: the sessions' settings; offline defaults when None.
    """

    def __init__(self, settings: AgentSettings | None = None) -> None:
        from tools.classifier import default_classifier
        from tools.explainer import Explainer
        from tools.vqa import FaceQA

        self.settings = settings or AgentSettings()
        self.classifier = default_classifier(None)
        self.explainer = Explainer(self.classifier, render_ahead=True)
        self.qa = FaceQA(classifier=self.classifier)
        self.cache = AnalysisCache(maxsize=8)
        self._refs: dict[str, dict[str, int]] = {}

    # --- photos and what "@left" means on each ----------------------------------------------------------

    def record(self, name: str) -> ImageRecord:
        """The shared decoded record of a test photo."""
        return self.cache.get(photo(name))

    def refs(self, name: str) -> dict[str, int]:
        """Face number (from 1) of each position/emotion reference on a photo, computed from the
        detector's boxes and the classifier's scores, independently of the planner."""
        if name not in self._refs:
            try:
                preds = self.classifier.predict(self.record(name))
            except NoFaceError:
                preds = []
            if not preds:
                self._refs[name] = {}
                return self._refs[name]

            def area(p: Any) -> int:
                return (p.box[2] - p.box[0]) * (p.box[3] - p.box[1])

            by_x = sorted(preds, key=lambda p: (p.box[0] + p.box[2]) / 2)
            self._refs[name] = {
                "left": by_x[0].number,
                "right": by_x[-1].number,
                "middle": by_x[len(by_x) // 2].number,
                "largest": max(preds, key=area).number,
                "smallest": min(preds, key=area).number,
                "happiest": max(preds, key=lambda p: p.probs.get("happy", 0.0)).number,
                "prominent": preds[0].number,
            }
        return self._refs[name]

    def _substitute(self, text: str, photo_name: str | None) -> str:
        spec = self.classifier.spec
        text = text.replace("@model", spec.name).replace("@dataset", str(spec.provenance.get("dataset", "")))
        if photo_name is None or "@" not in text:
            return text
        refs = self.refs(photo_name)
        return re.sub(r"@(\w+)", lambda m: str(refs[m.group(1)]), text)

    # --- one conversation --------------------------------------------------------------------------------

    def session(self) -> ChatSession:
        """A fresh conversation over the shared models."""
        return ChatSession(
            model="offline",
            settings=self.settings,
            classifier=self.classifier,
            explainer=self.explainer,
            qa=self.qa,
        )

    def play(
        self, conversation: dict[str, Any], on_reply: Callable[[dict, Reply], None] | None = None
    ) -> list[TurnOutcome]:
        """Plays one conversation; returns one outcome per turn."""
        session = self.session()
        photos: dict[str, str] = {}  # image id -> photo name
        for name in conversation.get("photos", []):
            photos[session.add_image(self.record(name), FILE_NAMES[name])] = name
        outcomes = []
        for index, turn in enumerate(conversation["turns"]):
            attach = turn.get("attach")
            if attach:
                before = set(session.store.ids())
                reply = session.send(turn["say"], image=self.record(attach), image_name=FILE_NAMES[attach])
                photos.update({i: attach for i in session.store.ids() if i not in before})
            else:
                reply = session.send(turn["say"])
            if on_reply is not None:
                on_reply(turn, reply)
            outcomes.append(self.score(conversation["id"], index, turn, reply, photos))
        return outcomes

    # --- scoring -------------------------------------------------------------------------------------------

    def _expected_call(self, spec: str, photos: dict[str, str]) -> tuple[str, dict[str, Any], bool]:
        """(tool, args to match, whether a missing face means "every face")."""
        letter, image_id, *rest = spec.split()
        args: dict[str, Any] = {"image_id": image_id}
        face: Any = None
        for token in rest:
            if "=" in token:
                key, value = token.split("=", 1)
                args[key] = value
            elif token != "*":
                face = token
        if face is not None:
            args["face"] = int(self._substitute(face, photos.get(image_id)))
        elif letter != "C" and "*" not in rest:
            # No face named: the most prominent one (the argument left out, or its number given).
            args["face"] = self.refs(photos[image_id]).get("prominent", 1) if image_id in photos else 1
        return TOOLS[letter], args, letter == "C" and face is None

    def score(
        self, conversation: str, index: int, turn: dict, reply: Reply, photos: dict[str, str]
    ) -> TurnOutcome:
        """Checks one reply against its turn."""
        calls = [(r.tool, dict(r.args)) for r in reply.results]
        problems: list[str] = []
        expected = turn.get("tools")
        if expected is not None:
            wanted = [self._expected_call(s, photos) for s in expected]
            if [c[0] for c in calls] != [w[0] for w in wanted]:
                problems.append(f"tools {[c[0] for c in calls]} != {[w[0] for w in wanted]}")
            else:
                for (tool, args), (_, want, all_faces) in zip(calls, wanted):
                    for key, value in want.items():
                        got = args.get(key)
                        if got is None and key == "face" and tool != "classify_emotion":
                            got = (
                                self.refs(photos[args["image_id"]]).get("prominent", 1)
                                if args.get("image_id") in photos
                                else 1
                            )
                        if got != value:
                            problems.append(f"{tool} {key}={got!r}, expected {value!r}")
                    if all_faces and args.get("face") is not None:
                        problems.append(f"{tool} face={args['face']!r}, expected every face")
        first_image = next((args.get("image_id") for _, args in calls if args.get("image_id")), None)
        photo_name = photos.get(first_image) if first_image else next(iter(photos.values()), None)
        for check in turn.get("check", []):
            problem = self._check(check, reply, photo_name)
            if problem:
                problems.append(problem)
        return TurnOutcome(conversation, index, turn["say"], not problems, problems, calls, reply.text)

    def _check(self, check: str, reply: Reply, photo_name: str | None) -> str | None:
        kind, _, value = check.partition(":")
        value = self._substitute(value, photo_name)
        text = reply.text
        low = _plain(text).lower()
        match = _YES_NO.match(_plain(text))
        if kind in ("yes", "no"):
            ok = bool(match) and match.group(1).lower() == kind
        elif kind == "yesno":
            ok = bool(match)
        elif kind == "has":
            ok = value.lower() in low
        elif kind == "hasnot":
            ok = value.lower() not in low
        elif kind == "re":
            ok = re.search(value, _plain(text), re.IGNORECASE) is not None
        elif kind == "first":
            ok = value.lower() in _first_sentence(text).lower()
        elif kind == "once":
            ok = low.count(value.lower()) <= 1
        elif kind == "word":
            first = next((ln for ln in _plain(text).splitlines() if ln.strip()), "")
            ok = re.fullmatch(r"\W*[A-Za-z-]+(?: [a-z]+)?\W*", first.strip()) is not None
        elif kind == "table":
            ok = re.search(r"^\|.*\|[ \t]*\n\|[ :|-]+\|[ \t]*$", text, re.MULTILINE) is not None
        elif kind == "annotated":
            pngs = [r.artifact.get("annotated_png") for r in reply.results if r.artifact]
            ok = any(p and p in reply.images for p in pngs)
        elif kind == "heatmap":
            pngs = [r.artifact.get("overlay_png") for r in reply.results if r.artifact]
            ok = any(p and p in reply.images for p in pngs)
        elif kind == "notunclear":
            ok = "not sure what you'd like" not in low
        else:
            return f"unknown check {check!r}"
        return None if ok else f"check {check!r} failed"

    def run(self, split: str) -> list[TurnOutcome]:
        """Plays every conversation of a split."""
        outcomes: list[TurnOutcome] = []
        for conversation in load(split):
            outcomes.extend(self.play(conversation))
        return outcomes
