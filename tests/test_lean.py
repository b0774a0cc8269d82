"""Inference without torch: every inference entry point, each call in a fresh interpreter, checked
with ``"torch" not in sys.modules`` after it; explanations that need torch still load it and work.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from benchmarks.photos import media_path
from tests.serving import free_port, server_process

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow

# Runs in a fresh interpreter: each step is one call; after it, torch must still be absent.
_LEAN_CHILD = r"""
import asyncio, base64, contextlib, io, json, sys

photo, group, clip, anger, crying = sys.argv[1:6]
steps = []


def step(name, fn):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        value = fn()
    steps.append({"step": name, "value": value, "torch": "torch" in sys.modules})


def cli(*args):
    from tools.cli import main

    return main(list(args))


step("import tools", lambda: __import__("tools").__name__)
step("import the servers, the CLI, the agent", lambda: [
    __import__(m) and m for m in ("tools.cli", "tools.serve.rest", "tools.serve.mcp_server", "agent")
])
from tools import analyze_video, ask, classify, describe, explain, find_faces

step("classify", lambda: classify(photo)[0].label)
step("find_faces", lambda: find_faces(group).count)
step("ask (geometry)", lambda: ask(photo, "Is the mouth open?").backend)
step("describe (geometry)", lambda: describe(photo).backend)


def voice(question, image=anger):
    answer = ask(image, question)
    return [answer.backend, answer.evidence["landmarks"], answer.evidence["classifier"]["label"], answer.text]


def video_frame(path, seconds):
    import av

    with av.open(path) as container:
        for frame in container.decode(video=0):
            if frame.time >= seconds - 0.02:
                return frame.to_ndarray(format="rgb24")


step("ask (geometry, one story: the brows an expression implies)", lambda: voice("Are her eyebrows lowered?"))
step("ask (geometry, one story: re-measured with dlib)", lambda: voice("Are her brows drawn together?"))
step("ask (geometry, eyes looked at again with dlib)",
     lambda: voice("Are her eyes closed?", video_frame(crying, 4.0)))
step("describe (geometry, one story)", lambda: describe(anger).text)
step("explain (Grad-CAM, default model)", lambda: explain(photo).method)
step("analyze_video", lambda: len(analyze_video(clip, fps=2).frames))


def live():
    import numpy as np
    from PIL import Image
    from tools.live import LiveAnalyzer

    frame = np.asarray(Image.open(photo).convert("RGB"))
    analyzer = LiveAnalyzer()
    analyzer.process(frame)
    return analyzer.process(frame).shape[2]


step("live analyzer", live)


def rest():
    from fastapi.testclient import TestClient
    from tools.serve.rest import RestSettings, create_app
    from tools.serve.service import FaceService

    data = open(photo, "rb").read()
    codes = []
    with TestClient(create_app(RestSettings(service=FaceService()))) as client:
        for path, fields in (("/v1/classify", {}), ("/v1/faces", {}), ("/v1/ask", {"question": "Is the mouth open?"}),
                             ("/v1/describe", {}), ("/v1/explain", {})):
            codes.append(client.post(path, files={"image": ("p.jpg", data, "image/jpeg")}, data=fields).status_code)
    return codes


step("REST server (in process)", rest)


def mcp():
    from tools.serve.mcp_server import build_mcp_server
    from tools.serve.service import FaceService

    server = build_mcp_server(FaceService().load())
    image = base64.b64encode(open(photo, "rb").read()).decode()

    async def calls():
        names = []
        for tool, args in (("classify_emotion", {}), ("find_faces", {}), ("describe_face", {}),
                           ("answer_question", {"question": "Is the mouth open?"}), ("explain_prediction", {})):
            await server.call_tool(tool, {"image": image, **args})
            names.append(tool)
        return names

    return asyncio.run(calls())


step("MCP server (in process)", mcp)
step("CLI classify", lambda: cli("classify", photo, "--json"))
step("CLI ask", lambda: cli("ask", photo, "Is the mouth open?"))
step("CLI describe", lambda: cli("describe", photo))
step("CLI video", lambda: cli("video", clip, "--fps", "2"))


def chat():
    from agent import ChatSession

    reply = ChatSession("offline").send("what is she feeling and why, and is the mouth open?", image=photo)
    return reply.tool_calls


step("chat turn (offline planner)", chat)
print(json.dumps(steps))
"""

_TORCH_CHILD = r"""
import json, sys
from tools import explain

photo = sys.argv[1]
plain = explain(photo)
before = "torch" in sys.modules
other = explain(photo, method="gradcam++")
print(json.dumps({"before": before, "after": "torch" in sys.modules, "methods": [plain.method, other.method],
                  "shape": list(other.heatmap.shape), "target": other.target}))
"""


def _child(script: str, *args: str, env: dict[str, str] | None = None) -> object:
    out = subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **(env or {})},
        check=False,
    )
    assert out.returncode == 0, out.stderr[-4000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_inference_entry_points_never_import_torch() -> None:
    photos = [media_path(name) for name in ("posed_happy", "multi_face", "smile_clip", "posed_anger")]
    crying = media_path("crying_then_laughing")
    # The voice's path as it ships: RetinaFace faces, FaceMesh landmarks, dlib as the second opinion,
    # the classifier's reading for one story.
    env = {
        "FACE_AGENT_VQA_BACKEND": "geometry",
        "FACE_AGENT_DETECTOR": "retinaface",
        "FACE_AGENT_LANDMARKS": "facemesh",
    }
    steps = _child(_LEAN_CHILD, *map(str, photos), str(crying), env=env)
    assert [s["step"] for s in steps if s["torch"]] == []
    values = {s["step"]: s["value"] for s in steps}
    assert values["classify"] == "happy"
    assert values["find_faces"] == 5
    assert values["ask (geometry)"] == values["describe (geometry)"] == "geometry"
    lowered = values["ask (geometry, one story: the brows an expression implies)"]
    assert lowered[:3] == ["geometry", "facemesh", "angry"] and lowered[3].startswith("Yes")
    together = values["ask (geometry, one story: re-measured with dlib)"]
    assert together[3].startswith("Yes") and "measured again with dlib" in together[3]
    shut = values["ask (geometry, eyes looked at again with dlib)"]
    assert shut[3].startswith("Yes") and "measured again with dlib" in shut[3]
    assert "lowered" in values["describe (geometry, one story)"]
    assert values["explain (Grad-CAM, default model)"] == "gradcam"
    assert values["analyze_video"] >= 4
    assert values["REST server (in process)"] == [200] * 5
    assert len(values["MCP server (in process)"]) == 5
    assert [values[f"CLI {c}"] for c in ("classify", "ask", "describe", "video")] == [0, 0, 0, 0]
    assert values["chat turn (offline planner)"] == [
        "classify_emotion",
        "explain_prediction",
        "answer_question",
    ]


def test_explanations_that_need_torch_load_it_and_work() -> None:
    facts = _child(_TORCH_CHILD, str(media_path("posed_happy")))
    assert facts["before"] is False and facts["after"] is True
    assert facts["methods"] == ["gradcam", "gradcam++"] and facts["target"] == "happy"
    assert facts["shape"] == [112, 112]


@pytest.mark.enable_socket
@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="reads the server's memory maps")
def test_rest_server_process_serves_without_torch() -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            return httpx.get(f"{url}/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    photos = [media_path(name).read_bytes() for name in ("obama", "multi_face", "posed_surprise", "sample1")]
    with (
        server_process(["serve", "rest", "--port", str(port)], ready) as proc,
        httpx.Client(base_url=url, timeout=120) as client,
    ):
        for i, data in enumerate(photos):
            for path in ("/v1/classify", "/v1/describe", "/v1/explain"):
                response = client.post(path, files={"image": (f"p{i}.jpg", data, "image/jpeg")})
                assert response.status_code == 200, response.text
        time.sleep(0.2)
        maps = Path(f"/proc/{proc.pid}/maps").read_text()
    assert "libtorch" not in maps
