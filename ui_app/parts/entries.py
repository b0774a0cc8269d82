"""History entries: what a message and its answer leave in the chat, as plain dicts.

The history (``st.session_state["messages"]``) is a list of these, re-drawn on every rerun by
``ui_app.parts.render``. They hold only plain types (text, numbers, bytes), never agent objects,
and name photos and videos by their file names: internal ids (``img1``) and tool names never reach
the page. Built here from a finished turn (``ui_app.parts.turns.Turn``) and the page's photo
registry (agent id -> name, display copy, scale).
"""

from __future__ import annotations

from typing import Any

from tools.errors import FaceAgentError
from tools.labels import display_name
from ui_app.parts.media import CROP_SIDE, Poster, face_crop
from ui_app.parts.turns import Turn, Upload, step_words

__all__ = [
    "GOT_PHOTO",
    "GOT_VIDEO",
    "assistant_entry",
    "frame_photos",
    "reply_entry",
    "user_entry",
]

GOT_PHOTO = "Got the photo. Ask me what it shows, why, or about the eyes and mouth."
GOT_VIDEO = (
    "Got the video. Ask what happens in it, how the mood changes, when she is happiest, for the timeline, "
    'or about one moment ("explain the frame at 0:05").'
)
REGION_NAMES = {"cheeks_jaw": "cheeks & jaw", "other": "outside the face"}
# Plain words for the explainer's verdict on its heatmap (the first words of ``faithfulness_text``).
TRUST_WORDS = (
    (
        "inconclusive",
        "The model gives this emotion so little weight that the check cannot tell whether the heatmap is "
        "a fair picture of its reasons.",
    ),
    (
        "partly faithful",
        "Hiding the marked area changes the reading somewhat more than hiding a random area: the heatmap "
        "is a partial guide to what the model used.",
    ),
    (
        "not shown to be faithful",
        "Hiding the marked area changes the reading no more than hiding a random area: take the heatmap "
        "with caution.",
    ),
    (
        "unfaithful",
        "Hiding the marked area changes the reading less than hiding a random area: the heatmap does not "
        "show what the model relied on.",
    ),
    (
        "faithful",
        "Hiding the marked area changes the reading far more than hiding a random area, so the heatmap "
        "shows what the model relied on.",
    ),
)


def _names(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


# --- the person's message ---------------------------------------------------------------------------


def user_entry(turn: int, text: str, uploads: list[Upload]) -> dict[str, Any]:
    """The person's message: text and attachments (a photo's display JPEG; a video or its poster).

    Args:
        turn: the turn's number.
        uploads: the files; a photo's ``preview`` is ``(display JPEG, scale)`` or None when it cannot
            be read, a video's is its ``Poster``.
    """
    attachments = []
    for upload in uploads:
        if upload.kind == "video":
            shown = upload.preview if isinstance(upload.preview, Poster) else Poster(True)
            attachments.append(
                {
                    "kind": "video",
                    "name": upload.name,
                    "video": upload.data if shown.playable else None,
                    "poster": shown.jpeg,
                    "codec": shown.codec,
                }
            )
        else:
            image = upload.preview[0] if upload.preview else None
            attachments.append({"kind": "photo", "name": upload.name, "image": image})
    return {"role": "user", "turn": turn, "text": text, "attachments": attachments}


# --- the answer ----------------------------------------------------------------------------------------


def _photo_name(photos: dict[str, dict[str, Any]], image_id: Any, fallback: str = "the photo") -> str:
    photo = photos.get(str(image_id)) if image_id is not None else None
    return str(photo["name"]) if photo else fallback


def _crop(photos: dict[str, dict[str, Any]], image_id: Any, box: Any, side: int = CROP_SIDE) -> bytes | None:
    photo = photos.get(str(image_id)) if image_id is not None else None
    if not photo or not photo.get("display"):
        return None
    try:
        return face_crop(photo["display"], float(photo.get("scale", 1.0)), box, side)
    except (OSError, ValueError):
        return None


def _single(prediction: dict[str, Any], name: str, many: bool) -> dict[str, Any]:
    label, confidence = str(prediction.get("label", "")), float(prediction.get("confidence", 0.0))
    face = f", face {int(prediction['face'])}" if many and prediction.get("face") is not None else ""
    return {
        "title": f"{name}{face}: {display_name(label)} ({confidence:.0%})",
        "probs": {str(k): float(v) for k, v in (prediction.get("probs") or {}).items()},
    }


def _group(artifact: dict[str, Any], photos: dict[str, dict[str, Any]], name: str) -> dict[str, Any]:
    image_id = artifact.get("image_id")
    predictions = sorted(artifact["predictions"], key=lambda p: int(p.get("face", 0)))
    faces = [
        {
            "number": int(p.get("face", i + 1)),
            "label": str(p.get("label", "")),
            "confidence": float(p.get("confidence", 0.0)),
            "probs": {str(k): float(v) for k, v in (p.get("probs") or {}).items()},
            "crop": _crop(photos, image_id, p.get("box")),
        }
        for i, p in enumerate(predictions)
    ]
    labels = [str(k) for k in artifact.get("labels") or faces[0]["probs"]]
    return {"name": name, "numbered": artifact.get("annotated_png"), "faces": faces, "labels": labels}


def _trust(text: str) -> str:
    lowered = text.lower()
    return next((words for verdict, words in TRUST_WORDS if lowered.startswith(verdict)), "")


def _heatmap(artifact: dict[str, Any], photos: dict[str, dict[str, Any]]) -> dict[str, Any]:
    prediction = artifact.get("prediction") or {}
    regions = artifact.get("top_regions") or sorted(
        (artifact.get("regions") or {}).items(), key=lambda kv: -kv[1]
    )
    regions = [(REGION_NAMES.get(str(n), str(n).replace("_", " ")), float(s)) for n, s in regions]
    target = display_name(str(artifact.get("target", "")))
    versus = display_name(str(artifact["versus"])) if artifact.get("versus") else None
    where = [f"the {n} ({s:.0%})" for n, s in regions[:3] if n != "outside the face"]
    plain = (
        f"To read *{target}*"
        + (f" rather than *{versus}*" if versus else "")
        + ", the model looked mostly at "
        f"{_names(where)}."
        if where
        else ""
    )
    trust = _trust(str(artifact.get("faithfulness_text", "")))
    technical = [
        f"Method: {artifact.get('method', '')}"
        + (f" on layer `{artifact['layer']}`" if artifact.get("layer") else "")
    ]
    if artifact.get("grid"):
        technical.append(f"Heatmap grid: {artifact['grid'][0]}x{artifact['grid'][1]} cells")
    if artifact.get("target_probability") is not None:
        technical.append(f"Probability of {target}: {float(artifact['target_probability']):.4f}")
    if artifact.get("faithfulness") is not None:
        technical.append(f"Faithfulness score: {float(artifact['faithfulness']):+.3f}")
    if artifact.get("faithfulness_text"):
        technical.append(f"Deletion test: {artifact['faithfulness_text']}")
    technical.append("Region shares: " + ", ".join(f"{n} {s:.1%}" for n, s in regions))
    face = prediction.get("face")
    return {
        "png": artifact["overlay_png"],
        "face": _crop(photos, artifact.get("image_id"), prediction.get("box"), 2 * CROP_SIDE),
        "name": _photo_name(photos, artifact.get("image_id")),
        "face_number": int(face) if face is not None else None,
        "target": target,
        "versus": versus,
        "method": str(artifact.get("method", "")),
        "regions": regions,
        "plain": " ".join(part for part in (plain, trust) if part),
        "technical": technical,
    }


def _video(artifact: dict[str, Any]) -> dict[str, Any]:
    tracks = [int(t["track"]) for t in (artifact.get("summary") or {}).get("tracks", [])]
    timeline = [r for r in artifact.get("timeline") or [] if r.get("track") is not None]
    faces = bool(tracks or timeline)
    return {
        "name": str(artifact.get("name", "the video")),
        "labels": [str(k) for k in artifact.get("labels") or []],
        "timeline": timeline,
        # A CSV of frames without a face would be a table of empty cells: offered only with faces.
        "csv": artifact.get("csv", "") if faces else "",
        "tracks": tracks or sorted({int(r["track"]) for r in timeline}),
    }


def frame_photos(reply: Any) -> dict[str, dict[str, Any]]:
    """Frames a video tool took as photos this turn, as photo-registry records (id -> record)."""
    found = {}
    for result in getattr(reply, "results", None) or []:
        artifact = getattr(result, "artifact", None)
        if result.tool == "video_frame" and isinstance(artifact, dict) and artifact.get("frame_jpeg"):
            found[str(artifact["image_id"])] = {
                "name": str(artifact.get("name", "a frame")),
                "bytes": artifact["frame_jpeg"],
                "display": artifact["frame_jpeg"],
                "scale": 1.0,
                "frame": True,  # made by the agent: not carried into a new session like an upload
            }
    return found


def reply_entry(reply: Any, photos: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The assistant's history entry for a ``Reply``: its text and what its tools' results show.

    Args:
        reply: the ``agent.Reply`` (text, notices, tool calls and their results).
        photos: the page's photo registry (agent id -> name, display copy, scale).
    """
    entry: dict[str, Any] = {
        "role": "assistant",
        "text": reply.text,
        "notices": list(reply.notices or []),
        "steps": list(dict.fromkeys(step_words(t) for t in reply.tool_calls or [])),
        "probabilities": [],
        "groups": [],
        "numbered": [],
        "heatmaps": [],
        "videos": [],
        "frames": [],
        "images": [],
        "figures": [],
    }
    shown: set[bytes] = set()
    for result in getattr(reply, "results", None) or []:
        artifact = getattr(result, "artifact", None)
        if not isinstance(artifact, dict) or "error" in artifact:
            continue
        name = _photo_name(photos, artifact.get("image_id"))
        figures = (artifact.get("evidence") or {}).get("figures")
        if isinstance(figures, dict) and figures:
            entry["figures"].append(figures)  # the measures behind a facial-state answer
        predictions = artifact.get("predictions") or []
        if len(predictions) > 1:
            entry["groups"].append(_group(artifact, photos, name))
        elif predictions:
            entry["probabilities"].append(
                _single(predictions[0], name, int(artifact.get("face_count", 1)) > 1)
            )
        if isinstance(artifact.get("annotated_png"), bytes | bytearray):
            shown.add(bytes(artifact["annotated_png"]))
            if len(predictions) <= 1:
                entry["numbered"].append(
                    {
                        "png": artifact["annotated_png"],
                        "caption": f"{name}: the faces, numbered left to right, then top to bottom",
                    }
                )
        if isinstance(artifact.get("overlay_png"), bytes | bytearray):
            entry["heatmaps"].append(_heatmap(artifact, photos))
            shown.add(bytes(artifact["overlay_png"]))
        if result.tool == "analyze_video" and artifact.get("timeline") is not None:
            entry["videos"].append(_video(artifact))
        elif result.tool == "video_frame" and artifact.get("frame_jpeg"):
            entry["frames"].append(
                {"jpeg": artifact["frame_jpeg"], "caption": str(artifact.get("name", "the frame"))}
            )
    entry["images"] = [bytes(png) for png in reply.images or [] if bytes(png) not in shown]
    return entry


def _got(added: list[Any]) -> str:
    kinds = {a.upload.kind for a in added}
    if len(added) == 1:
        return GOT_VIDEO if kinds == {"video"} else GOT_PHOTO
    what = "videos" if kinds == {"video"} else "photos" if kinds == {"photo"} else "files"
    return (
        f"Got {len(added)} {what}: {_names([a.upload.name for a in added])}. Ask about any of them by name, "
        "or about the first, the last or all of them."
    )


def assistant_entry(turn: Turn, photos: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The answer to a finished turn: the reply, the refused files, or what went wrong."""
    errors = [a.error for a in turn.added if a.error]
    kept = [a.upload.name for a in turn.added if a.error is None]
    if turn.failure is not None:
        if isinstance(turn.failure, FaceAgentError):
            errors.append(str(turn.failure))
        else:
            errors.append(
                f"Something went wrong while answering ({type(turn.failure).__name__}). Your conversation is "
                "kept: try again, rephrase, or switch to the offline planner in the sidebar."
            )
        return {"role": "assistant", "turn": turn.number, "errors": errors}
    if errors:
        text = (
            f"I kept {_names(kept)}; ask again to have your question answered about it."
            if kept and turn.text
            else ""
        )
        return {"role": "assistant", "turn": turn.number, "errors": errors, "text": text}
    if turn.reply is None:
        return {"role": "assistant", "turn": turn.number, "text": _got(turn.added) if turn.added else ""}
    entry = reply_entry(turn.reply, photos) | {"turn": turn.number}
    shown = entry["probabilities"] or entry["groups"] or entry["heatmaps"] or entry["videos"]
    if getattr(turn.reply, "error", None) and not shown:
        # Nothing could be shown (no face, unreadable photo ...): the reply is the error.
        entry["errors"], entry["text"] = [entry["text"] or turn.reply.error], ""
    return entry
