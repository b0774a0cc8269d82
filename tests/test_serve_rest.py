"""The REST API: a real uvicorn process over real HTTP, and the app in process for its settings."""

from __future__ import annotations

import base64
import io
import threading
from collections.abc import Iterator

import httpx
import numpy as np
import pytest
from PIL import Image
from skimage import data

from benchmarks.photos import group_photo
from tests.bad_inputs import CASES, Case, as_file_bytes
from tests.conftest import GRACE_HOPPER, png_bytes
from tests.serving import free_port, server_process
from tools.faces import reading_order

pytestmark = pytest.mark.enable_socket


def _jpeg(rgb: np.ndarray) -> bytes:
    return png_bytes(rgb, "JPEG", quality=92)


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    """One uvicorn process for the module (2 workers, 1 torch thread each)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            return httpx.get(f"{url}/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    with server_process(["serve", "rest", "--port", str(port), "--workers", "2"], ready):
        yield url


@pytest.fixture(scope="module")
def client(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=60) as c:
        yield c


def _post(client: httpx.Client, path: str, data: bytes, name: str = "photo.jpg", **fields) -> httpx.Response:
    return client.post(path, files={"image": (name, data, "application/octet-stream")}, data=fields)


def _is_error(response: httpx.Response, status: int | None = None, kind: str | None = None) -> dict:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"type", "message"}, body
    assert 400 <= response.status_code < 500 if status is None else response.status_code == status, (
        response.text
    )
    assert kind is None or body["error"]["type"] == kind, body
    assert len(body["error"]["message"]) > 10 and "Traceback" not in body["error"]["message"]
    return body["error"]


def test_every_endpoint(client: httpx.Client, astronaut, grace_hopper):
    assert client.get("/health").json()["status"] == "ok"
    photo = _jpeg(astronaut)
    classified = _post(client, "/v1/classify", photo).json()
    face = classified["faces"][0]
    assert face["label"] == "happy" and abs(sum(face["probs"].values()) - 1) < 1e-3 and len(face["box"]) == 4
    assert "happy" in classified["text"]

    explained = _post(client, "/v1/explain", photo).json()
    assert explained["target"] == "happy" and abs(sum(explained["regions"].values()) - 1) < 1e-3
    assert -1 <= explained["faithfulness"] <= 1 and "summary" in explained
    png = base64.b64decode(explained["heatmap_png"])
    assert Image.open(io.BytesIO(png)).size[0] > 100
    raw = _post(client, "/v1/explain?format=png", photo, target="sad")
    assert raw.headers["content-type"] == "image/png" and raw.content.startswith(b"\x89PNG")
    assert raw.content != png  # the heatmap for another target

    answer = _post(client, "/v1/ask", _jpeg(grace_hopper), question="Is the mouth open?").json()
    assert answer["backend"] == "geometry" and "closed" in answer["text"]
    described = _post(client, "/v1/describe", photo).json()
    assert "eyes" in described["text"].lower() and described["backend"] == "geometry"

    group = _jpeg(group_photo()[0])
    faces = _post(client, "/v1/faces", group).json()
    assert faces["count"] >= 8 and len(faces["faces"]) == faces["count"] and faces["annotated_png"]
    numbers = [f["face"] for f in faces["faces"]]
    assert numbers == list(range(1, faces["count"] + 1))  # faces 1..n, listed in that order ...
    assert reading_order([f["box"] for f in faces["faces"]]) == numbers  # ... which is reading order
    assert {"left", "right"} <= {w for f in faces["faces"] for w in f["words"]}
    numbered = _post(client, "/v1/faces?format=png", group)
    assert numbered.headers["content-type"] == "image/png"
    assert _post(client, "/v1/faces", _jpeg(np.asarray(data.chelsea()))).json()["count"] == 0

    schema = client.get("/openapi.json").json()
    assert {"/health", "/v1/classify", "/v1/explain", "/v1/ask", "/v1/describe", "/v1/faces"} <= set(
        schema["paths"]
    )
    docs = client.get("/docs")
    assert docs.status_code == 200 and "cdn" not in docs.text and "/static-offline-docs/" in docs.text
    assert client.get("/redoc").headers["content-security-policy"] == "img-src 'self' data:"


def test_request_errors_are_json(client: httpx.Client, astronaut):
    photo = _jpeg(astronaut)
    _is_error(client.post("/v1/classify"), 400, "InvalidRequestError")  # no image
    _is_error(_post(client, "/v1/ask", photo), 400, "InvalidRequestError")  # no question
    _is_error(_post(client, "/v1/classify", photo, face="0"), 400)
    message = _is_error(_post(client, "/v1/explain", photo, face="3"), 400, "InvalidRequestError")["message"]
    assert "1 face" in message
    _is_error(_post(client, "/v1/explain", photo, method="magic"), 400, "InvalidRequestError")
    _is_error(_post(client, "/v1/explain", photo, target="boredom"), 400, "InvalidRequestError")
    _is_error(client.get("/v2/nothing"), 404)
    _is_error(client.get("/v1/classify"), 405)
    too_big = b"\xff\xd8" + bytes(26 * 2**20)
    _is_error(_post(client, "/v1/classify", too_big), 413, "ImageTooLargeError")
    assert client.get("/health").status_code == 200


def _upload(case: Case) -> tuple[bytes, str, bool]:
    """What a person would upload for a case: the bytes; an image array as PNG when PNG can hold it
    exactly, else the .npy file (which the server must refuse). Returns (bytes, name, still_valid)."""
    value = case.make()
    if isinstance(value, bytes):
        return value, f"input{case.suffix}", True
    if value.dtype == np.uint8 and (value.ndim == 2 or (value.ndim == 3 and value.shape[2] in (3, 4))):
        return png_bytes(value), "input.png", True
    return as_file_bytes(value), "input.npy", False


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_matrix(client: httpx.Client, case: Case):
    data, name, valid = _upload(case)
    response = _post(client, "/v1/classify", data, name)
    if isinstance(case.expect, type) or not valid:
        error = _is_error(response)
        if valid:
            assert error["type"] == case.expect.__name__
    else:
        assert response.status_code == 200, response.text
        faces = response.json()["faces"]
        kind, expected = case.expect
        if kind == "ok":
            assert faces and (expected is None or faces[0]["label"] == expected)
        else:
            assert len(faces) >= expected
    assert client.get("/health").json()["status"] == "ok"


def _workload(astronaut: np.ndarray) -> list[tuple[str, bytes, dict]]:
    """24 different photos (more than the server's per-image cache keeps) over the four endpoints."""
    grace = np.asarray(Image.open(GRACE_HOPPER).convert("RGB"))
    jobs = []
    for i in range(24):
        base = astronaut if i % 2 == 0 else grace
        photo = _jpeg(np.clip(base.astype(np.int16) + i // 2 - 6, 0, 255).astype(np.uint8))
        path, fields = [
            ("/v1/classify", {}),
            ("/v1/ask", {"question": "Is the mouth open?"}),
            ("/v1/explain", {}),
            ("/v1/describe", {}),
        ][i % 4]
        jobs.append((path, photo, fields))
    return jobs


@pytest.mark.slow
def test_concurrent_clients_get_the_sequential_answers(base_url: str, astronaut):
    jobs = _workload(astronaut)
    with httpx.Client(base_url=base_url, timeout=120) as c:
        sequential = [(r.status_code, r.json()) for r in (_post(c, p, d, **f) for p, d, f in jobs)]
    assert all(status == 200 for status, _ in sequential)
    results: dict[tuple[int, int], tuple[int, int, dict]] = {}
    failures: list[str] = []

    def client_run(k: int) -> None:
        with httpx.Client(base_url=base_url, timeout=120) as c:
            for n in range(25):
                j = (k * 7 + n * 5) % len(jobs)  # each client its own order over every job
                try:
                    r = _post(c, jobs[j][0], jobs[j][1], **jobs[j][2])
                    results[(k, n)] = (j, r.status_code, r.json())
                except httpx.HTTPError as exc:
                    failures.append(f"client {k} request {n}: {exc!r}")

    threads = [threading.Thread(target=client_run, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not failures and len(results) == 200
    for j, status, body in results.values():
        assert status == 200, body
        assert body == sequential[j][1], f"job {j} ({jobs[j][0]}) differs from its sequential answer"


# --- settings, with the app in process (TestClient: no socket) ------------------------------------------


@pytest.fixture(scope="module")
def service():
    from tools.serve.service import FaceService

    return FaceService().load()


def _app_client(service, **settings):
    from fastapi.testclient import TestClient

    from tools.serve.rest import RestSettings, create_app

    return TestClient(create_app(RestSettings(service=service, **settings)))


def test_api_key_and_cors_only_when_configured(service, astronaut):
    photo = _jpeg(astronaut)
    files = {"image": ("a.jpg", photo, "image/jpeg")}
    with _app_client(service, api_key="s3cret", cors_origins=("https://app.example",)) as c:
        _is_error(c.post("/v1/classify", files=files), 401, "Unauthorized")
        _is_error(c.post("/v1/classify", files=files, headers={"X-API-Key": "wrong"}), 401)
        assert c.post("/v1/classify", files=files, headers={"X-API-Key": "s3cret"}).status_code == 200
        assert c.get("/health").status_code == 200
        preflight = c.options(
            "/v1/classify",
            headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"},
        )
        assert preflight.headers.get("access-control-allow-origin") == "https://app.example"
    with _app_client(service) as c:
        response = c.post("/v1/classify", files=files, headers={"Origin": "https://app.example"})
        assert response.status_code == 200 and "access-control-allow-origin" not in response.headers


def test_upload_limit_is_413(service, astronaut):
    with _app_client(service, max_upload_bytes=50_000) as c:
        big = png_bytes(astronaut)
        assert len(big) > 50_000
        _is_error(
            c.post("/v1/classify", files={"image": ("a.png", big, "image/png")}), 413, "ImageTooLargeError"
        )

        # Without Content-Length (chunked), the body is counted while it streams in.
        def chunked():
            yield b'--b\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\n\r\n'
            for _ in range(20):
                yield b"\xff" * 10_000
            yield b"\r\n--b--\r\n"

        streamed = c.post(
            "/v1/classify", content=chunked(), headers={"content-type": "multipart/form-data; boundary=b"}
        )
        assert streamed.request.headers.get("transfer-encoding") == "chunked"
        _is_error(streamed, 413, "ImageTooLargeError")
        small = _jpeg(astronaut[::4, ::4])
        assert c.post("/v1/classify", files={"image": ("a.jpg", small, "image/jpeg")}).status_code in (
            200,
            422,
        )


def test_full_queue_is_503(service, astronaut):
    release = threading.Event()
    with _app_client(service, workers=1, max_waiting=0) as c:
        queue = c.app.state.queue
        busy = c.portal.start_task_soon(queue.run, lambda: release.wait(30))
        try:
            while queue.pending == 0:
                threading.Event().wait(0.01)
            response = c.post("/v1/classify", files={"image": ("a.jpg", _jpeg(astronaut), "image/jpeg")})
            error = _is_error(response, 503, "CapacityError")
            assert "busy" in error["message"] and response.headers.get("retry-after")
        finally:
            release.set()
            busy.result(timeout=30)
        assert (
            c.post("/v1/classify", files={"image": ("a.jpg", _jpeg(astronaut), "image/jpeg")}).status_code
            == 200
        )
