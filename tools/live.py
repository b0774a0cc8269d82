"""Live camera analysis: the video pipeline on a stream, with the readings drawn on the frames.

``LiveAnalyzer.process(rgb)`` runs ``tools.video.FrameAnalyzer`` (detect on a small copy, align,
classify, track, smooth) on one frame and draws, per face, a box and label in the colour of its
emotion and one bar per emotion in that emotion's colour (``tools.palette``, the app's colours);
with ``heatmap`` on, a Grad-CAM heatmap of the main face is computed about once a second in a
short-lived background thread and blended in until the next one (the per-frame path never waits
for it). ``callback`` is streamlit-webrtc's ``video_frame_callback``.

What the page shows beside the video comes from ``snapshot()``, read under a lock. The analyzer
keeps no thread of its own: when the camera stops or the tab closes, streamlit-webrtc ends its
worker and nothing of ours is left running. Frames stay in memory (the last one, for "send to chat").
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from tools.errors import FaceAgentError
from tools.palette import emotion_colour, text_colour
from tools.tracking import FaceTracker
from tools.video import FrameAnalyzer, FrameResult

__all__ = ["LiveAnalyzer", "LiveSnapshot", "LIVE_DETECT_SIDE"]

LIVE_DETECT_SIDE = 320  # a webcam face is large: a 320 px copy finds it at a third of 640 px's cost
HEAT_MAX_AGE_S = 3.0  # an old heatmap no longer matches the face: stop drawing it


@dataclass(frozen=True)
class LiveSnapshot:
    """What the page shows beside the video.

    Attributes:
        faces: per face (most prominent first): ``{"track", "label", "confidence", "smoothed"}``
            where ``smoothed`` maps each emotion to its smoothed probability.
        fps: frames processed per second, over the last few seconds.
        frames: frames processed since the start (or the last reset).
        ms_per_frame: mean processing time of the recent frames.
        heatmap_label: the emotion the current heatmap explains, or None.
    """

    faces: list[dict[str, Any]] = field(default_factory=list)
    fps: float = 0.0
    frames: int = 0
    ms_per_frame: float = 0.0
    heatmap_label: str | None = None


class LiveAnalyzer:
    """Analyses and annotates camera frames one after another; safe to read from another thread.

    Args:
        classifier: an ``EmotionClassifier``; the cached default model when None.
        detect_side: faces are searched on a copy at most this large.
        smooth_s: time constant of the smoothing, in seconds.
        heatmap: blend a Grad-CAM heatmap of the main face into the frames.
        heatmap_every_s: how often a new heatmap is computed.
        clock: seconds, monotonic (a test may pass its own).
    """

    def __init__(
        self,
        classifier: Any = None,
        detect_side: int = LIVE_DETECT_SIDE,
        smooth_s: float = 0.5,
        heatmap: bool = False,
        heatmap_every_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.analyzer = FrameAnalyzer(classifier, detect_side=detect_side, smooth_s=smooth_s)
        # A person who looks away and back is "face 1" again, not face 2, 3 ...
        self.analyzer.tracker = FaceTracker(reuse_ids=True)
        self.labels = self.analyzer.labels
        self.heatmap = heatmap
        self.heatmap_every_s = heatmap_every_s
        self.clock = clock
        self._lock = threading.Lock()
        self._work = threading.Lock()  # one frame at a time through the tracker
        self._start: float | None = None
        self._last: FrameResult | None = None
        self._frame: np.ndarray | None = None
        self._frames = 0
        self._times: deque[tuple[float, float]] = deque(maxlen=60)  # (clock, seconds of work)
        self._heat: tuple[float, np.ndarray, tuple[int, ...], str] | None = None  # t, map, box, label
        self._heat_job: threading.Thread | None = None
        self._heat_started = -1e9
        self.errors = 0

    # --- per frame ------------------------------------------------------------------------------

    def process(self, rgb: np.ndarray) -> np.ndarray:
        """Analyses one RGB frame and returns a copy with the readings drawn on it."""
        now = self.clock()
        with self._work:
            if self._start is None:
                self._start = now
            began = time.perf_counter()
            try:
                result = self.analyzer.process(rgb, now - self._start, self._frames)
            except FaceAgentError:  # a frame that cannot be read must not end the stream
                self.errors += 1
                return rgb
            out = self.draw(rgb, result)
            spent = time.perf_counter() - began
        with self._lock:
            self._last, self._frame = result, rgb
            self._frames += 1
            self._times.append((now, spent))
            want_heat = self.heatmap and result.faces and now - self._heat_started >= self.heatmap_every_s
            busy = self._heat_job is not None and self._heat_job.is_alive()
        if want_heat and not busy:
            self._start_heatmap(rgb, result.faces[0].box, now)
        return out

    def callback(self, frame: Any) -> Any:
        """streamlit-webrtc's ``video_frame_callback``: av.VideoFrame in, annotated av.VideoFrame out."""
        import av

        out = self.process(frame.to_ndarray(format="rgb24"))
        new = av.VideoFrame.from_ndarray(out, format="rgb24")
        new.pts = frame.pts
        if frame.time_base is not None:
            new.time_base = frame.time_base
        return new

    # --- heatmap at a lower rate ----------------------------------------------------------------

    def _start_heatmap(self, rgb: np.ndarray, box: tuple[int, ...], now: float) -> None:
        self._heat_started = now
        job = threading.Thread(
            target=self._compute_heatmap, args=(rgb, box, now), name="live-heatmap", daemon=True
        )
        self._heat_job = job
        job.start()

    def _compute_heatmap(self, rgb: np.ndarray, box: tuple[int, ...], now: float) -> None:
        from tools.analysis import ImageRecord
        from tools.explainer import Explainer

        try:
            explanation = Explainer(self.analyzer.classifier, cache_results=False).explain(
                ImageRecord(rgb.copy())
            )
        except FaceAgentError:
            return
        h, w = rgb.shape[:2]
        heat = cv2.warpAffine(
            np.asarray(explanation.heatmap, np.float32),
            np.asarray(explanation.matrix, np.float64)[:2],
            (w, h),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0,
        )
        with self._lock:
            self._heat = (now, heat, tuple(box), str(explanation.target))

    def wait_for_heatmap(self, timeout: float = 30.0) -> bool:
        """Waits for a running heatmap job (for tests and benchmarks); True when none is left running."""
        job = self._heat_job
        if job is not None:
            job.join(timeout)
        return job is None or not job.is_alive()

    # --- drawing --------------------------------------------------------------------------------

    def draw(self, rgb: np.ndarray, result: FrameResult) -> np.ndarray:
        """A copy of the frame with boxes, labels, smoothed bars (and the heatmap, when on)."""
        out = rgb.copy()
        with self._lock:
            heat = self._heat if self.heatmap else None
        if heat is not None and result.faces and self.clock() - heat[0] <= HEAT_MAX_AGE_S:
            self._blend_heat(out, heat, result.faces[0].box)
        w = out.shape[1]
        scale = max(0.4, min(1.0, w / 900))
        for face in result.faces:
            best = int(np.argmax(face.smoothed))
            # The box takes the colour of the face's emotion, as on every other surface of the app.
            colour = emotion_colour(self.labels[best])
            x0, y0, x1, y1 = face.box
            thickness = max(2, round(3 * scale))
            cv2.rectangle(out, (x0, y0), (x1, y1), colour, thickness)
            text = f"{face.track}: {self.labels[best]} {face.smoothed[best]:.0%}"
            (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.7 * scale, 2)
            top = max(0, y0 - th - base - 6)
            cv2.rectangle(out, (x0, top), (min(w - 1, x0 + tw + 8), top + th + base + 6), colour, -1)
            cv2.putText(
                out,
                text,
                (x0 + 4, top + th + 3),
                cv2.FONT_HERSHEY_SIMPLEX,
                0.7 * scale,
                text_colour(colour),
                2,
                cv2.LINE_AA,
            )
            self._bars(out, face, scale)
        return out

    def _bars(self, out: np.ndarray, face: Any, scale: float) -> None:
        h, w = out.shape[:2]
        x0, y0, x1, _ = face.box
        row = max(10, round(16 * scale))
        width = round(110 * scale)
        left = x1 + 6 if x1 + 6 + width + 40 * scale < w else max(0, x0 - width - round(46 * scale))
        for i, (label, p) in enumerate(zip(self.labels, face.smoothed)):
            top = y0 + i * row
            if top + row > h:
                break
            cv2.rectangle(out, (left, top + 2), (left + width, top + row - 2), (40, 40, 40), -1)
            cv2.rectangle(
                out,
                (left, top + 2),
                (left + round(width * float(p)), top + row - 2),
                emotion_colour(label),
                -1,
            )
            cv2.putText(
                out,
                label[:3],
                (left + width + 4, top + row - 4),
                cv2.FONT_HERSHEY_SIMPLEX,
                0.4 * scale,
                (255, 255, 255),
                1,
                cv2.LINE_AA,
            )

    @staticmethod
    def _blend_heat(
        out: np.ndarray, heat: tuple[float, np.ndarray, tuple[int, ...], str], box: tuple[int, ...]
    ) -> None:
        _, heatmap, then, _ = heat
        dx = (box[0] + box[2] - then[0] - then[2]) / 2
        dy = (box[1] + box[3] - then[1] - then[3]) / 2
        if abs(dx) > 0.5 or abs(dy) > 0.5:  # the face moved since: move its heat with it
            shift = np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]])
            heatmap = cv2.warpAffine(heatmap, shift, (out.shape[1], out.shape[0]))
        colour = cv2.applyColorMap(np.uint8(255 * np.clip(heatmap, 0, 1)), cv2.COLORMAP_JET)[..., ::-1]
        weight = (0.55 * np.clip(heatmap, 0, 1))[..., None]
        out[:] = np.clip(out * (1 - weight) + colour * weight, 0, 255).astype(np.uint8)

    # --- for the page ---------------------------------------------------------------------------

    def snapshot(self) -> LiveSnapshot:
        """The latest readings and the processing rate."""
        with self._lock:
            last, times, frames = self._last, list(self._times), self._frames
            heat_label = self._heat[3] if (self._heat is not None and self.heatmap) else None
        fps = 0.0
        if len(times) >= 2 and times[-1][0] > times[0][0]:
            fps = (len(times) - 1) / (times[-1][0] - times[0][0])
        faces = []
        for face in last.faces if last is not None else ():
            best = int(np.argmax(face.smoothed))
            faces.append(
                {
                    "track": face.track,
                    "label": self.labels[best],
                    "confidence": round(float(face.smoothed[best]), 4),
                    "smoothed": {k: round(float(v), 4) for k, v in zip(self.labels, face.smoothed)},
                }
            )
        ms = 1000 * float(np.mean([s for _, s in times])) if times else 0.0
        return LiveSnapshot(faces, round(fps, 2), frames, round(ms, 2), heat_label)

    def latest_frame(self) -> np.ndarray | None:
        """The last camera frame as received (no drawings), or None before the first."""
        with self._lock:
            return None if self._frame is None else self._frame.copy()

    def reset(self) -> None:
        """Forgets tracks, smoothing, rates and the heatmap (a new stream starts afresh)."""
        with self._work, self._lock:
            self.analyzer.reset()
            self._start, self._last, self._frames, self._heat = None, None, 0, None
            self._times.clear()
