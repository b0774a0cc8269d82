"""The face tools as LangChain tools, for any LangChain agent: classify, explain, ask, describe, find faces.

Each tool takes an ``image_id`` rather than an image: the pixels come from the caller's image store
through the runtime context (``ToolRuntime[FaceToolContext]``), so a model can never talk a tool into
reading a file from disk. Each returns a short text for the model and the bulky data (scores, PNG
bytes) as the artifact (``response_format="content_and_artifact"``); artifacts hold plain types
only, so a checkpointer can store them.

Faces are named by their number, the one people read off the numbered photo: reading order (left to
right, then top to bottom), from 1, the same in every tool's arguments, results and text. A tool
called without a face works on the most prominent one (or, for ``classify_emotion``, on every face).

Failures a person or a model can cause (an unknown image id, no face, an unknown label) come back as
tool text that says what went wrong, with ``"error"`` in the artifact, instead of ending the turn.

    from tools.lc import FaceToolContext, face_tools
    agent = create_agent(model, face_tools(), context_schema=FaceToolContext)
    agent.invoke({"messages": [...]}, context=FaceToolContext(images={"img1": record}))
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from langchain.tools import ToolRuntime, tool
from langchain_core.tools import BaseTool
from pydantic import Field

from tools import locate
from tools.errors import FaceAgentError, InvalidRequestError, ModelUnavailableError, NoFaceError
from tools.faces import index_of_number
from tools.labels import display_name
from tools.wording import percent, prediction_text

__all__ = [
    "FaceToolContext",
    "classify_emotion",
    "explain_prediction",
    "answer_question",
    "describe_face",
    "find_faces",
    "face_tools",
    "TOOL_NAMES",
    "IMAGE_TOOLS",
]

ImageId = Annotated[
    str,
    Field(
        description="Id of a photo of this conversation, exactly as listed (e.g. 'img1'); never a path or URL."
    ),
]
FaceNumber = Annotated[
    int | None,
    Field(
        description="Which face: its number on the numbered photo (reading order: left to right, then top "
        "to bottom, from 1); omit for the most prominent face.",
        ge=1,
    ),
]
OptionalFace = Annotated[
    int | None,
    Field(
        description="Which face: its number on the numbered photo (reading order, from 1); omit to "
        "classify every face.",
        ge=1,
    ),
]
Label = Annotated[
    str | None,
    Field(
        description="Emotion to explain, e.g. 'sad', 'surprise', 'happily surprised'; omit for the prediction."
    ),
]
Versus = Annotated[
    str | None,
    Field(
        description="Emotion to contrast with ('why happy rather than surprise' -> 'surprise'); usually omit."
    ),
]
Method = Annotated[
    str | None,
    Field(
        description="CAM method: gradcam, gradcam++, hirescam, xgradcam, layercam, eigencam, eigengradcam, "
        "scorecam, ablationcam, fullgrad; omit for the session's default (gradcam unless set)."
    ),
]
Question = Annotated[
    str, Field(description="The question about the face, in plain words, e.g. 'Is the mouth open?'.")
]


@dataclass
class FaceToolContext:
    """What the face tools read from the agent's runtime context.

    Attributes:
        images: image id -> ``tools.analysis.ImageRecord`` (or any image input) held in memory.
        names: image id -> a display name (the upload's file name), for messages.
        classifier: the ``EmotionClassifier`` to use; the cached default model when None.
        explainer: an ``Explainer`` over that classifier; made on first use when None.
        qa: a ``FaceQA``; made on first use from ``qa_options`` when None.
        default_method: the CAM method used when a call names none.
        qa_options: keyword arguments for that ``FaceQA`` (``backend``, ``allow_download`` ...).
    """

    images: Mapping[str, Any] = field(default_factory=dict)
    names: Mapping[str, str] = field(default_factory=dict)
    classifier: Any = None
    explainer: Any = None
    qa: Any = None
    default_method: str = "gradcam"
    qa_options: Mapping[str, Any] = field(default_factory=dict)

    def image(self, image_id: str) -> Any:
        """The stored image of ``image_id``; ``InvalidRequestError`` listing the valid ids otherwise."""
        key = str(image_id).strip()
        if key in self.images:
            return self.images[key]
        valid = ", ".join(self.images) or "none (ask the user to upload a photo)"
        raise InvalidRequestError(
            f"There is no image {image_id!r} in this conversation. Valid image ids: {valid}."
        )

    def get_classifier(self) -> Any:
        """The classifier (loads the default model on first use)."""
        if self.classifier is None:
            from tools.classifier import default_classifier

            self.classifier = default_classifier(None)
        return self.classifier

    def get_explainer(self) -> Any:
        """The explainer over ``get_classifier()``."""
        if self.explainer is None:
            from tools.explainer import Explainer

            # The tool always attaches the overlay: render it while the regions are computed.
            self.explainer = Explainer(self.get_classifier(), render_ahead=True)
        return self.explainer


def _context(runtime: ToolRuntime | None) -> FaceToolContext:
    context = getattr(runtime, "context", None)
    if context is None:
        raise InvalidRequestError(
            "These tools read photos from the conversation's image store, and none was given "
            "(run them inside an agent with context=FaceToolContext(images=...))."
        )
    return context


def _run(image_id: str, work: Callable[[], tuple[str, dict]]) -> tuple[str, dict]:
    """Runs a tool body; project errors become text the model can relay to the user."""
    try:
        return work()
    except FaceAgentError as exc:
        return f"Error: {exc}", {"image_id": image_id, "error": str(exc), "error_type": type(exc).__name__}


@tool(response_format="content_and_artifact")
def classify_emotion(
    image_id: ImageId,
    face: OptionalFace = None,
    runtime: ToolRuntime[FaceToolContext] = None,  # type: ignore[assignment]  # injected by the agent
) -> tuple[str, dict]:
    """Reads the emotion on the faces of a photo with the emotion classifier.

    Use it for "what is she feeling?", "is he happy?", "what emotion is this?", and to compare photos
    (call it once per photo). Returns, per face, the emotion, its confidence, the runner-up and a
    compound reading (e.g. "happily surprised", marked derived when combined from basic scores).
    """

    def work() -> tuple[str, dict]:
        context = _context(runtime)
        classifier = context.get_classifier()
        record = classifier.record(context.image(image_id))
        preds = [p.to_dict() for p in classifier.predict(record)]
        count = len(preds)
        height, width = record.shape[:2]
        where = locate.locate_faces([p["box"] for p in preds], (width, height))
        by_index = {f.index: f for f in where.faces}  # the map lists faces by number, preds by prominence
        for i, pred in enumerate(preds):
            pred["position"] = by_index[i].position
            pred["position_words"] = list(by_index[i].words)
        artifact: dict[str, Any] = {"image_id": image_id, "image_size": [width, height], "face_count": count}
        if face is not None:
            preds = [preds[index_of_number(classifier.faces_of(record), face)]]
        elif count > 1:
            # Which person is "face 2": the photo with numbered boxes and their readings.
            labels = [f"{p['face']} {display_name(p['label'])} {percent(p['confidence'])}" for p in preds]
            artifact["annotated_png"] = locate.annotate(
                record, [p["box"] for p in preds], labels, emotions=[p["label"] for p in preds]
            )
        lines = "; ".join(prediction_text(p) for p in preds)
        content = f"{image_id} ({count} face{'s' if count != 1 else ''}, model {classifier.name}): {lines}."
        artifact.update(predictions=preds, labels=list(classifier.labels))
        return content, artifact

    return _run(image_id, work)


@tool(response_format="content_and_artifact")
def explain_prediction(
    image_id: ImageId,
    face: FaceNumber = None,
    target: Label = None,
    versus: Versus = None,
    method: Method = None,
    runtime: ToolRuntime[FaceToolContext] = None,  # type: ignore[assignment]  # injected by the agent
) -> tuple[str, dict]:
    """Explains why the classifier read an emotion, with a heatmap (Grad-CAM family) over the face.

    Use it for "why?", "what made you say that?", "show me the heatmap", "heatmap for sadness",
    "with score-cam". Returns which facial regions hold the heat (shares), the target's probability
    and how faithful the map is; the heatmap image is attached for the user automatically.
    """

    def work() -> tuple[str, dict]:
        context = _context(runtime)
        explanation = context.get_explainer().explain(
            context.image(image_id),
            target=target,
            method=method or context.default_method,
            face=face,
            versus=versus,
        )
        artifact = {"image_id": image_id, **explanation.to_dict(), "overlay_png": explanation.overlay_png}
        return f"{image_id}: {explanation.summary()}", artifact

    return _run(image_id, work)


def _qa(context: FaceToolContext) -> Any:
    if context.qa is None:
        try:
            from tools.vqa import FaceQA
        except ImportError as exc:
            raise ModelUnavailableError(f"The face question answerer is not installed ({exc}).") from exc
        context.qa = FaceQA(classifier=context.get_classifier(), **dict(context.qa_options))
    return context.qa


@tool(response_format="content_and_artifact")
def answer_question(
    image_id: ImageId,
    question: Question,
    face: FaceNumber = None,
    runtime: ToolRuntime[FaceToolContext] = None,  # type: ignore[assignment]  # injected by the agent
) -> tuple[str, dict]:
    """Answers a question about the visible state of a face: mouth, teeth, eyes, brows, smile, head pose.

    Use it for "is the mouth open?", "can you see her teeth?", "are her eyes closed?", "is he
    frowning?", "which way is she looking?". Returns a short answer and how it was found (landmark
    geometry checked against the emotion reading, or a VQA model checked against the geometry); the
    measures behind it are in the artifact's evidence. Questions about age, gender, origin, identity,
    looks, lying, health, personality or intentions are declined with the reason
    (``tools.boundaries``): relay that to the user.
    """

    def work() -> tuple[str, dict]:
        context = _context(runtime)
        answer = _qa(context).ask(context.image(image_id), question, face=face)
        if answer.declined:
            return f"Declined ({answer.declined}): {answer.text}", {"image_id": image_id, **answer.to_dict()}
        note = "" if answer.in_scope else " (outside what this answerer can judge reliably)"
        return f"{image_id}, face {answer.number}: {answer.text}{note} [{answer.backend}]", {
            "image_id": image_id,
            **answer.to_dict(),
        }

    return _run(image_id, work)


@tool(response_format="content_and_artifact")
def describe_face(
    image_id: ImageId,
    face: FaceNumber = None,
    runtime: ToolRuntime[FaceToolContext] = None,  # type: ignore[assignment]  # injected by the agent
) -> tuple[str, dict]:
    """Describes the visible state of a face in a few sentences: eyes, mouth and teeth, smile, brows, head pose.

    Use it for "describe the face", "what does her face look like?". Returns a short paragraph; the
    figures behind it (named measures, thresholds, the landmark model) are in the artifact's evidence.
    """

    def work() -> tuple[str, dict]:
        context = _context(runtime)
        answer = _qa(context).describe(context.image(image_id), face=face)
        return f"{image_id}, face {answer.number}: {answer.text} [{answer.backend}]", {
            "image_id": image_id,
            **answer.to_dict(),
        }

    return _run(image_id, work)


@tool(response_format="content_and_artifact")
def find_faces(
    image_id: ImageId,
    runtime: ToolRuntime[FaceToolContext] = None,  # type: ignore[assignment]  # injected by the agent
) -> tuple[str, dict]:
    """Counts the faces of a photo and says where each one is (left, middle, right, top, bottom, largest).

    Use it for "how many faces/people are there?", "where is face 2?", "which one is the person on the
    left?" (then pass that face number to the other tools), "number the faces". Faces are numbered as
    in every other tool (reading order: left to right, then top to bottom). An annotated copy of the
    photo with numbered boxes is attached for the user automatically.
    """

    def work() -> tuple[str, dict]:
        context = _context(runtime)
        classifier = context.get_classifier()
        record = classifier.record(context.image(image_id))
        height, width = record.shape[:2]
        try:
            faces = classifier.faces_of(record)
        except NoFaceError:
            faces = []
        found = locate.locate_faces([f.box for f in faces], (width, height), [f.score for f in faces])
        artifact: dict[str, Any] = {"image_id": image_id, **found.to_dict()}
        if found.count:
            # Numbers only: the positions are in the text, and short labels never hide each other.
            artifact["annotated_png"] = locate.annotate(
                record, found.boxes(), [str(f.number) for f in found.faces]
            )
        return f"{image_id}: {found.summary()}", artifact

    return _run(image_id, work)


TOOL_NAMES: tuple[str, ...] = (
    "classify_emotion",
    "explain_prediction",
    "answer_question",
    "describe_face",
    "find_faces",
)
# Every tool here reads a photo; an agent checks image ids in calls to these before running them.
IMAGE_TOOLS = frozenset(TOOL_NAMES)


def face_tools(include_unavailable: bool = False) -> list[BaseTool]:
    """The face tools whose engines are installed (the question tools need ``tools.vqa``).

    Args:
        include_unavailable: list every tool even when its module is missing (it then answers with
            an error text).
    """
    found = {
        "explain_prediction": importlib.util.find_spec("tools.explainer") is not None,
        "answer_question": importlib.util.find_spec("tools.vqa") is not None,
        "describe_face": importlib.util.find_spec("tools.vqa") is not None,
    }
    every = [classify_emotion, explain_prediction, answer_question, describe_face, find_faces]
    return [t for t in every if include_unavailable or found.get(t.name, True)]
