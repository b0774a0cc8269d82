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

    # The page loads everything from the app itself: no fonts, analytics or images from elsewhere.
    urls = _requested_urls(driver)
    assert urls and any(url.startswith(app_url) for url in urls)
    local = (
        app_url,
        app_url.replace("http", "ws", 1),
        "data:",
        "blob:",
        "chrome:",
        "about:",
    )  # chrome: = its own UI
    assert [url for url in urls if not url.startswith(local)] == []
