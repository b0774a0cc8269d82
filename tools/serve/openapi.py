"""The REST API's OpenAPI document, made exact enough for generated clients and fuzzers.

FastAPI writes most of it from the endpoints; ``refine`` then states what FastAPI cannot know or
says in a way clients misread:

* file parts are ``format: binary`` (with only ``contentMediaType``, ``openapi-python-client`` types
  them as text and sends a string);
* optional form fields are optional, not nullable (a form part cannot be null);
* emotions are an enum of the loaded model's labels (``Emotion``), CAM methods an enum of the
  explainer's (``CamMethod``); fields opt in with ``json_schema_extra={"x-enum": "Emotion"}``;
* every operation lists the errors it can answer, each with the error schema and an example, and
  ``X-Request-ID`` as an optional request header and a response header of every answer.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from typing import Any

__all__ = ["refine", "ERROR_STATUSES", "ENUM_MARK"]

ENUM_MARK = "x-enum"

# status -> (description, error type of the example, example message)
ERROR_STATUSES: dict[int, tuple[str, str, str]] = {
    400: (
        "A bad request: a missing or malformed field, an unknown emotion or method, a face number "
        "the photo does not have.",
        "InvalidRequestError",
        "Invalid request: face: Input should be greater than or equal to 1.",
    ),
    401: (
        "The API key is missing or wrong (only when the server has one).",
        "Unauthorized",
        "A valid API key is required in the X-API-Key header.",
    ),
    413: (
        "The upload is larger than the server's limit.",
        "ImageTooLargeError",
        "The request is larger than the limit of 25.1 MB; please send a smaller photo.",
    ),
    422: (
        "The file is not a usable photo or video (not an image, corrupt, no face found, over a "
        "duration or resolution limit).",
        "NoFaceError",
        "No face found in this photo. Try a photo where the face is clearly visible.",
    ),
    503: (
        "The server is busy (its work queue is full: retry after Retry-After seconds), a memory "
        "limit was reached, or a model is missing.",
        "CapacityError",
        "The server is busy: 34 requests are running or waiting (limit 34). Try again in a moment.",
    ),
}


def _var_names(values: Sequence[str]) -> list[str]:
    """Identifiers for enum values, for generated clients ("gradcam++" -> "GRADCAM_PLUS_PLUS", which
    would otherwise collide with "gradcam")."""
    names: list[str] = []
    for value in values:
        name = re.sub(r"\W+", "_", value.replace("+", " plus ")).strip("_").upper() or "VALUE"
        if name[0].isdigit():
            name = f"VALUE_{name}"
        while name in names:
            name += "_"
        names.append(name)
    return names


def _error_response(status: int) -> dict[str, Any]:
    description, kind, message = ERROR_STATUSES[status]
    response: dict[str, Any] = {
        "description": description,
        "content": {
            "application/json": {
                "schema": {"$ref": "#/components/schemas/ErrorOut"},
                "example": {"error": {"type": kind, "message": message}},
            }
        },
    }
    if status == 503:
        response["headers"] = {
            "Retry-After": {
                "description": "Seconds to wait before trying again (when the queue is full).",
                "schema": {"type": "integer"},
            }
        }
    return response


def _without_null(prop: dict[str, Any]) -> dict[str, Any]:
    """``anyOf: [X, null]`` -> X, keeping the property's own keywords (a form field is never null)."""
    options = prop.get("anyOf")
    if not options:
        if "default" in prop and prop["default"] is None:
            del prop["default"]
        return prop
    kept = [o for o in options if o.get("type") != "null"]
    if len(kept) == len(options):
        return prop
    out = {k: v for k, v in prop.items() if k != "anyOf"}
    if len(kept) == 1:
        out = {**kept[0], **out}
    else:
        out["anyOf"] = kept
    if out.get("default", 0) is None:
        del out["default"]
    return out


def _mark_enums(node: Any, names: set[str]) -> Any:
    """Replaces every schema marked ``x-enum: NAME`` with a reference to component NAME; a nullable
    one stays nullable (``anyOf: [ref, null]``)."""
    if isinstance(node, list):
        return [_mark_enums(item, names) for item in node]
    if not isinstance(node, dict):
        return node
    node = {k: _mark_enums(v, names) for k, v in node.items()}
    name = node.pop(ENUM_MARK, None)
    if name is None:
        return node
    if name not in names:
        raise KeyError(f"no enum component {name!r} for {node}")
    ref = {"$ref": f"#/components/schemas/{name}"}
    keep = {k: node[k] for k in ("description", "examples") if k in node}
    options = node.get("anyOf") or []
    if any(o.get("type") == "null" for o in options):
        return {**keep, "anyOf": [ref, {"type": "null"}]}
    return {**keep, **ref}


def refine(
    schema: dict[str, Any],
    *,
    enums: dict[str, tuple[Sequence[str], str]],
    errors: dict[str, Sequence[int]],
    request_id_header: str = "X-Request-ID",
) -> dict[str, Any]:
    """A copy of FastAPI's document with the fixes listed in the module docstring.

    Args:
        schema: ``fastapi.openapi.utils.get_openapi``'s output.
        enums: component name -> (values, description), e.g. ``{"Emotion": (labels, "...")}``.
        errors: path prefix -> the error statuses its operations answer (the longest prefix wins).
        request_id_header: the request-id header's name.
    """
    doc = copy.deepcopy(schema)
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name, (values, description) in enums.items():
        schemas[name] = {
            "type": "string",
            "enum": list(values),
            "title": name,
            "description": description,
            "x-enum-varnames": _var_names(values),
        }
    doc["paths"] = _mark_enums(doc.get("paths", {}), set(enums))
    for name in list(schemas):
        schemas[name] = _mark_enums(schemas[name], set(enums))
        if name.startswith("Body_"):
            props = schemas[name].get("properties", {})
            for key, prop in list(props.items()):
                prop = _without_null(prop)
                if "contentMediaType" in prop and prop.get("type") == "string":
                    prop["format"] = "binary"
                props[key] = prop
    # FastAPI's own validation-error schemas are never sent: validation errors are ErrorOut 400s.
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)

    components.setdefault("headers", {})["RequestId"] = {
        "description": "The request's id: the one sent in the request when plausible, else a new one.",
        "required": True,
        "schema": {"type": "string"},
    }
    components.setdefault("parameters", {})["RequestId"] = {
        "name": request_id_header,
        "in": "header",
        "required": False,
        "description": "An id for this request (letters, digits, '._:-', up to 128), echoed in the "
        "response and the access log; a new one is made when it is absent or not plausible.",
        "schema": {"type": "string"},
    }
    for path, item in doc["paths"].items():
        statuses = _errors_for(path, errors)
        for operation in item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            operation.setdefault("parameters", []).append({"$ref": "#/components/parameters/RequestId"})
            responses = operation["responses"]
            for status in list(responses):
                if status.isdigit() and int(status) >= 400 and int(status) not in statuses:
                    del responses[status]  # FastAPI's default 422 (validation) is a 400 here
            for status in statuses:
                responses[str(status)] = _error_response(status)
            for response in responses.values():
                response.setdefault("headers", {})[request_id_header] = {
                    "$ref": "#/components/headers/RequestId"
                }
    return doc


def _errors_for(path: str, errors: dict[str, Sequence[int]]) -> list[int]:
    best = max((p for p in errors if path.startswith(p)), key=len, default=None)
    return sorted(errors[best]) if best is not None else []
