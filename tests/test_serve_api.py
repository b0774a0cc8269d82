"""The REST API's contract, as third-party tools see it: the OpenAPI document, a Python client generated
from it by ``openapi-python-client`` calling every endpoint, and Schemathesis with every check, each
against a real ``python -m tools serve rest`` process."""

from __future__ import annotations

import base64
import importlib
import io
import re
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from benchmarks.photos import media_bytes
from tests.conftest import png_bytes
from tests.serving import ROOT, ServerProcess, rest_server

pytestmark = pytest.mark.enable_socket

KEY = "contract-test-key"
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
PHOTO_OPERATIONS = {"classify", "explain", "ask", "describe", "find_faces", "analyze_video"}


def _jpeg(rgb) -> bytes:
    return png_bytes(rgb, "JPEG", quality=92)


# --- the document, from the app in process --------------------------------------------------------------


@pytest.fixture(scope="module")
def service():
    from tools.serve.service import FaceService

    return FaceService().load()


def _schema(service, **settings) -> dict[str, Any]:
    from tools.serve.rest import RestSettings, create_app

    return create_app(RestSettings(service=service, **settings)).openapi()


def _operations(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {op["operationId"]: op for item in schema["paths"].values() for op in item.values()}


def test_the_document_says_what_the_server_accepts(service):
    schema = _schema(service)
    assert schema["info"]["version"] == VERSION
    operations = _operations(schema)
    assert set(operations) == PHOTO_OPERATIONS | {"health", "metrics_text"}
    components = schema["components"]["schemas"]
    assert components["Emotion"]["enum"] == service.labels
    assert components["CamMethod"]["enum"] == service.methods
    assert "gradcam" in components["CamMethod"]["enum"] and "gradcam++" in components["CamMethod"]["enum"]
    assert len(set(components["CamMethod"]["x-enum-varnames"])) == len(service.methods)

    for name, body in components.items():
        if not name.startswith("Body_"):
            continue
        for field, prop in body["properties"].items():
            assert "anyOf" not in prop and prop.get("type") != "null", (
                name,
                field,
            )  # a form part is never null
            if field in ("image", "video"):
                assert prop["type"] == "string" and prop["format"] == "binary", (name, field)
            if field == "face":
                assert prop["type"] == "integer" and prop["minimum"] == 1
    from tools.vqa import MAX_QUESTION_CHARS

    question = components["Body_ask"]["properties"]["question"]
    assert question["minLength"] == 1 and question["maxLength"] == MAX_QUESTION_CHARS and question["pattern"]
    assert components["Body_explain"]["properties"]["target"]["$ref"].endswith("/Emotion")
    assert components["Body_explain"]["properties"]["method"]["$ref"].endswith("/CamMethod")
    assert components["Body_analyze_video"]["properties"]["fps"]["exclusiveMinimum"] == 0

    for name in PHOTO_OPERATIONS:
        responses = operations[name]["responses"]
        assert set(responses) == {"200", "400", "413", "422", "503"}, name
        for status in ("400", "413", "422", "503"):
            content = responses[status]["content"]["application/json"]
            assert content["schema"]["$ref"].endswith("/ErrorOut") and set(content["example"]) == {"error"}
        assert all("X-Request-ID" in r["headers"] for r in responses.values())
        assert {"$ref": "#/components/parameters/RequestId"} in operations[name]["parameters"]
    assert set(operations["health"]["responses"]) == {"200"}
    assert "securitySchemes" not in schema.get("components", {})  # no key, no scheme

    keyed = _schema(service, api_key="k")
    assert keyed["components"]["securitySchemes"]["ApiKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "The key the server was started with (FACE_AGENT_SERVE_API_KEY).",
    }
    for name, operation in _operations(keyed).items():
        secured = name in PHOTO_OPERATIONS
        assert ("security" in operation) == secured and ("401" in operation["responses"]) == secured, name


def test_enum_choices_and_questions_are_checked_at_the_door(service, astronaut):
    from fastapi.testclient import TestClient

    from tools.serve.rest import RestSettings, create_app

    photo = {"image": ("a.jpg", _jpeg(astronaut), "image/jpeg")}
    with TestClient(create_app(RestSettings(service=service))) as client:
        for field, value in (("target", "Happy"), ("versus", "boredom"), ("method", "Grad-CAM")):
            response = client.post("/v1/explain", files=photo, data={field: value})
            assert response.status_code == 400 and field in response.json()["error"]["message"], response.text
        for question in ("   ", "Is the mouth\x00open?", "line\nbreak", "x" * 501, ""):
            response = client.post("/v1/ask", files=photo, data={"question": question})
            assert response.status_code == 400, (question, response.text)
        ok = client.post("/v1/ask", files=photo, data={"question": "Est-ce que la bouche est ouverte ? ¿Sí?"})
        assert ok.status_code == 200, ok.text


# --- a real server with an API key: the generated client, Schemathesis ---------------------------------


@pytest.fixture(scope="module")
def keyed_server() -> Iterator[tuple[str, ServerProcess]]:
    with rest_server("--workers", "2", env={"FACE_AGENT_SERVE_API_KEY": KEY}) as server:
        yield server


@pytest.fixture(scope="module")
def generated(keyed_server, tmp_path_factory) -> Iterator[Any]:
    """A client package generated by openapi-python-client from the running server's /openapi.json."""
    url, _ = keyed_server
    folder = tmp_path_factory.mktemp("client")
    spec = folder / "openapi.json"
    spec.write_bytes(httpx.get(f"{url}/openapi.json", timeout=30).content)
    tool = Path(sys.executable).with_name("openapi-python-client")
    done = subprocess.run(
        [
            str(tool),
            "generate",
            "--path",
            str(spec),
            "--meta",
            "none",
            "--output-path",
            str(folder / "face_api"),
        ],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "WARNING" not in done.stdout + done.stderr, done.stdout + done.stderr  # nothing left out
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module("face_api")
    finally:
        sys.path.remove(str(folder))
        for name in [m for m in sys.modules if m == "face_api" or m.startswith("face_api.")]:
            del sys.modules[name]


@pytest.mark.slow
def test_a_generated_client_calls_every_endpoint(generated, keyed_server, astronaut, grace_hopper):
    # The package exists once the fixture has generated it.
    from face_api import models
    from face_api.api.photos import ask, classify, describe, explain, find_faces
    from face_api.api.service import health, metrics_text
    from face_api.api.video import analyze_video
    from face_api.types import File

    url, server = keyed_server
    client = generated.AuthenticatedClient(
        base_url=url, token=KEY, auth_header_name="X-API-Key", prefix="", timeout=httpx.Timeout(120)
    )

    def upload(data: bytes, name: str = "photo.jpg") -> File:
        return File(payload=io.BytesIO(data), file_name=name, mime_type="application/octet-stream")

    photo = _jpeg(astronaut)
    calls: dict[str, int] = {}

    r = classify.sync_detailed(
        client=client, body=models.BodyClassify(image=upload(photo)), x_request_id="gen-1"
    )
    calls["classify"] = r.status_code
    assert isinstance(r.parsed, models.ClassifyOut) and r.headers["x-request-id"] == "gen-1"
    assert r.parsed.faces[0].label == models.Emotion.HAPPY and r.parsed.faces[0].face == 1

    body = models.BodyExplain(
        image=upload(photo), face=1, target=models.Emotion.SAD, method=models.CamMethod.GRADCAM_PLUS_PLUS
    )
    r = explain.sync_detailed(client=client, body=body)
    calls["explain"] = r.status_code
    assert isinstance(r.parsed, models.ExplainOut), r.content[:300]
    assert r.parsed.target == models.Emotion.SAD and r.parsed.method == "gradcam++"
    assert Image.open(io.BytesIO(base64.b64decode(r.parsed.heatmap_png))).format == "PNG"

    body = models.BodyAsk(image=upload(_jpeg(grace_hopper)), question="Is the mouth open?")
    r = ask.sync_detailed(client=client, body=body)
    calls["ask"] = r.status_code
    assert isinstance(r.parsed, models.AnswerOut) and "closed" in r.parsed.text

    r = describe.sync_detailed(client=client, body=models.BodyDescribe(image=upload(photo), face=1))
    calls["describe"] = r.status_code
    assert isinstance(r.parsed, models.AnswerOut) and "eyes" in r.parsed.text.lower()

    r = find_faces.sync_detailed(
        client=client, body=models.BodyFindFaces(image=upload(media_bytes("multi_face")))
    )
    calls["find_faces"] = r.status_code
    assert isinstance(r.parsed, models.FacesOut) and r.parsed.count == 5
    assert [f.face for f in r.parsed.faces] == [1, 2, 3, 4, 5]

    body = models.BodyAnalyzeVideo(video=upload(media_bytes("smile_clip"), "selfie.mp4"), fps=5.0)
    r = analyze_video.sync_detailed(client=client, body=body)
    calls["analyze_video"] = r.status_code
    assert isinstance(r.parsed, models.VideoOut), r.content[:300]
    assert (
        r.parsed.name == "selfie.mp4" and r.parsed.fps_analyzed == 5.0 and "happy" in r.parsed.summary.story
    )

    r = health.sync_detailed(client=client)
    calls["health"] = r.status_code
    assert isinstance(r.parsed, models.HealthOut) and r.parsed.version == VERSION and r.parsed.uptime_s >= 0

    r = metrics_text.sync_detailed(client=client)
    calls["metrics_text"] = r.status_code
    assert 'face_api_requests_total{method="POST",route="/v1/classify",status="200"} 1.0' in r.parsed

    assert calls == dict.fromkeys(PHOTO_OPERATIONS | {"health", "metrics_text"}, 200), calls

    # Errors parse as the error model, with their status.
    r = classify.sync_detailed(
        client=client, body=models.BodyClassify(image=upload(b"this is not a photo at all"))
    )
    assert r.status_code == 422 and isinstance(r.parsed, models.ErrorOut)
    assert r.parsed.error.type_ == "InvalidImageError"
    anonymous = generated.Client(base_url=url, timeout=httpx.Timeout(60))
    r = classify.sync_detailed(client=anonymous, body=models.BodyClassify(image=upload(photo)))
    assert r.status_code == 401 and r.parsed.error.type_ == "Unauthorized"
    assert " 500 " not in server.log()


@pytest.mark.slow
def test_schemathesis_finds_no_failure(keyed_server, tmp_path):
    """Every check, every phase that applies, a bounded number of examples per operation."""
    url, server = keyed_server
    tool = Path(sys.executable).with_name("schemathesis")
    junit = tmp_path / "junit.xml"
    done = subprocess.run(
        [
            str(tool),
            "--config-file",
            str(ROOT / "tests" / "schemathesis.toml"),
            "run",
            f"{url}/openapi.json",
            "--checks",
            "all",
            "--max-examples",
            "40",
            "--seed",
            "20",
            "--workers",
            "2",
            "--header",
            f"X-API-Key: {KEY}",
            "--generation-database",
            "none",
            "--report",
            "junit",
            "--report-junit-path",
            str(junit),
            "--no-color",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=400,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    summary = re.search(r"(\d+) generated, (\d+) passed", output)
    assert summary is not None and summary.group(1) == summary.group(2), output[-3000:]
    assert int(summary.group(1)) >= 200, output[-3000:]
    suites = ET.parse(junit).getroot()
    cases = suites.findall(".//testcase")
    assert len(cases) == 8 and not suites.findall(".//failure") and not suites.findall(".//error")
    print(f"schemathesis: {len(cases)} operations, {summary.group(1)} test cases, 0 failures")
    log = server.log()
    assert " 500 " not in log and "Traceback" not in log, log[-3000:]
    assert re.search(r"POST /v1/classify 401 ", log)  # ignored_auth sent requests without the key
