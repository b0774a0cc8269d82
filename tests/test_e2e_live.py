"""End to end: the Live page in headless Chromium with a fake camera playing real photos.

The camera is Chromium's fake capture device fed a Y4M file made here from the astronaut photo
(30 frames a second, the face drifting). The app is started with the Makefile's command; WebRTC runs
over loopback with no ICE servers (offline), in a laptop-sized window (1366x768). The test sees the
analysed frames come back: the boxes and labels drawn by ``tools.live`` in happy's colour are read
off the <video> element's pixels, the page's status line names the emotion and the processing rate
(printed; never asserted as a speed) and sits in view beside the video with the send button, STOP
ends the stream and its worker threads in the server, and "Send this frame to the chat" puts the
frame in the chat as a photo. The last screenshot is ``artifacts/live.png``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests import video_clips as clips
from tests.test_e2e import ROOT, _browser_paths, _save_screenshot, app_url  # noqa: F401  (app_url is a fixture)
from tools.palette import emotion_colour

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.enable_socket]

WAIT = 180  # seconds: the first frames wait for the models to load on a cold, busy CPU
WINDOW = (1366, 768)  # a common laptop screen
SCREENSHOT = ROOT / "artifacts" / "live.png"
HAPPY = emotion_colour("happy")  # the astronaut smiles: her box, label and top bar take this colour
# Pixels near happy's colour in the returned video, after VP8 compression (the photo has none).
MARKS_JS = f"""
const video = arguments[0];
if (!video || video.readyState < 2 || !video.videoWidth) return -1;
const canvas = document.createElement('canvas');
canvas.width = video.videoWidth; canvas.height = video.videoHeight;
const ctx = canvas.getContext('2d');
ctx.drawImage(video, 0, 0);
const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
let count = 0;
for (let i = 0; i < data.length; i += 4) {{
  const dr = data[i] - {HAPPY[0]}, dg = data[i + 1] - {HAPPY[1]}, db = data[i + 2] - {HAPPY[2]};
  if (Math.abs(dr) + Math.abs(dg) + Math.abs(db) < 90) count++;
}}
return count;
"""
# Where an element is on the screen: its bottom edge, the window's height, how far the page scrolled.
IN_VIEW_JS = """
const box = arguments[0].getBoundingClientRect();
const scrolled = Array.from(document.querySelectorAll('*')).some(e => e.scrollTop > 0);
return [box.top, box.bottom, window.innerHeight, scrolled];
"""


def _camera_file(path: Path) -> Path:
    frames = []
    for i in range(30):
        dx = 0.03 * np.sin(2 * np.pi * i / 30)
        frames.append(
            clips.framed(clips.astronaut(), clips.ASTRONAUT_FACE, (640, 480), 0.45, (0.5 + dx, 0.5))
        )
    return clips.write_y4m(path, frames, fps=30)


@pytest.fixture
def camera_browser(tmp_path: Path) -> Iterator[object]:
    """Headless Chromium whose camera plays a Y4M made from a real photo."""
    browser_path, driver_path = _browser_paths()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    camera = _camera_file(tmp_path / "camera.y4m")
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
        "--disable-extensions",
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-video-capture={camera}",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    # The page itself, not the window with its frame, gets the laptop's size.
    metrics = {"width": WINDOW[0], "height": WINDOW[1], "deviceScaleFactor": 1, "mobile": False}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    try:
        yield driver
    finally:
        driver.quit()


def _webrtc_frame(driver) -> object:
    """Switches into the streamlit-webrtc component's iframe (the one with the START button)."""
    from selenium.webdriver.common.by import By

    for frame in driver.find_elements(By.TAG_NAME, "iframe"):
        driver.switch_to.frame(frame)
        if driver.find_elements(By.XPATH, "//button"):
            return frame
        driver.switch_to.default_content()
    return None


def _marks_on_screen(driver) -> int:
    """Mark-coloured pixels in the video the page plays (found afresh: the element is re-rendered)."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By

    try:
        return max(
            (driver.execute_script(MARKS_JS, v) for v in driver.find_elements(By.TAG_NAME, "video")),
            default=-1,
        )
    except WebDriverException:
        return -1


def _start_again(driver) -> None:
    """Presses START until the annotated frames come back. On a busy machine a press that lands while
    the component is still tearing down the last stream can be lost; a person would press again."""
    from selenium.webdriver.common.by import By

    start = (By.XPATH, "//button[contains(translate(normalize-space(.), 'start', 'START'), 'START')]")
    deadline = time.monotonic() + WAIT
    pressed_at = -1e9
    while time.monotonic() < deadline:
        if _webrtc_frame(driver) is not None:
            if _marks_on_screen(driver) > 800:
                return
            if time.monotonic() - pressed_at > 30 and _click(driver, start):
                pressed_at = time.monotonic()
        driver.switch_to.default_content()
        time.sleep(0.5)
    raise AssertionError(f"the stream did not come back within {WAIT} s of pressing START again")


def _server_process() -> object:
    """The app's process (started by the ``app_url`` fixture, a child of this one)."""
    import psutil

    children = [p for p in psutil.Process().children() if "streamlit" in " ".join(p.cmdline())]
    assert len(children) == 1, children
    return children[0]


def _click(driver, locator: tuple[str, str]) -> bool:
    """Clicks an element that a rerun may be redrawing; False (try again) when it was in the way."""
    from selenium.common.exceptions import WebDriverException

    try:
        driver.find_element(*locator).click()
    except WebDriverException:
        return False
    return True


def test_live_page_labels_the_camera_stream(camera_browser, app_url: str) -> None:  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver = camera_browser
    driver.get(f"{app_url}/live")
    wait = WebDriverWait(driver, WAIT, poll_frequency=0.5)
    wait.until(lambda d: "Live" in d.find_element(By.TAG_NAME, "body").text)
    wait.until(lambda d: _webrtc_frame(d) is not None)
    start = wait.until(
        lambda d: d.find_element(
            By.XPATH, "//button[contains(translate(normalize-space(.), 'start', 'START'), 'START')]"
        )
    )
    start.click()
    # The frames coming back carry the drawn boxes and labels; the camera's own frames have none of
    # these colours (tests/test_live.py checks that on the same photo).
    wait.until(lambda d: _marks_on_screen(d) > 800)
    marks = _marks_on_screen(driver)
    driver.switch_to.default_content()

    # The status line, refreshed every second from the analyzer: the emotion and the rate.
    status = re.compile(r"Live · ([\d.]+) frames/s · face \d+: \W*(\w+)")
    wait.until(lambda d: status.search(d.find_element(By.TAG_NAME, "body").text))
    time.sleep(4)  # let the rate settle over a few seconds of streaming
    match = status.search(driver.find_element(By.TAG_NAME, "body").text)
    assert match is not None and match.group(2).lower() == "happy"
    print(f"live pipeline in the app: {float(match.group(1)):.1f} frames/s; {marks} box/label pixels")

    # At 1366x768 the status line and the send button are on screen without scrolling.
    line = driver.find_element(By.XPATH, "//p[contains(., 'frames/s')]")
    button = driver.find_element(By.XPATH, "//button[contains(., 'Send this frame to the chat')]")
    for element in (line, button):
        top, bottom, height, scrolled = driver.execute_script(IN_VIEW_JS, element)
        assert 0 <= top and bottom <= height and not scrolled, (element.text, top, bottom, height)
    SCREENSHOT.parent.mkdir(exist_ok=True)
    _save_screenshot(driver, SCREENSHOT)

    # STOP ends the stream and frees its worker threads in the server; START brings them back.
    server = _server_process()
    streaming = server.num_threads()
    _webrtc_frame(driver)
    stop = (By.XPATH, "//button[contains(translate(normalize-space(.), 'stop', 'STOP'), 'STOP')]")
    wait.until(lambda d: _click(d, stop))
    driver.switch_to.default_content()
    wait.until(lambda d: "Press START" in d.find_element(By.TAG_NAME, "body").text)
    wait.until(lambda d: server.num_threads() < streaming)
    print(f"server threads: {streaming} while streaming, {server.num_threads()} after STOP")
    _start_again(driver)
    driver.switch_to.default_content()

    send = (By.XPATH, "//button[contains(., 'Send this frame to the chat') and not(@disabled)]")
    wait.until(lambda d: _click(d, send))
    images = '[data-testid="stChatMessage"] [data-testid="stImage"]'
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, images))
    assert "camera frame 1.jpg" in driver.find_element(By.TAG_NAME, "body").text
