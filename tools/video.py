"""Faces in motion: the photo pipeline applied to the frames of a video, with tracks and a timeline.

    from tools import analyze_video
    result = analyze_video("clip.mp4", fps=10)      # VideoAnalysis
    result.summary()["tracks"][0]["dominant"]       # "happy"
    result.timeline()                               # per-second mean probabilities per track
    result.to_csv(), result.to_dict()

Each analysed frame goes through the same steps as a photo: ``tools.faces.detect_faces`` (on a copy
downscaled to ``detect_side``; boxes and landmarks are mapped back), the classifier's own alignment
and input conversion, one batched forward pass for the frame's faces. On top of that:

- **tracks**: faces are associated across frames by the overlap (IoU) and distance between each
  track's predicted box (constant velocity) and the new detections, with an optimal assignment, so
  two faces that cross keep their ids; a track survives short misses. No identity recognition.
- **smoothing**: per track, an exponential moving average of the probabilities with a time
  constant (``smooth_s``), so a one-frame flicker does not change the reading.
- **timeline and summary**: mean probabilities per track per second; per track the dominant
  emotion, the changes (a new reading that holds for ``hold_s``) with timestamps, and the peaks.

Decoding is PyAV's (FFmpeg inside the wheel): MP4, MOV, WebM, MKV, AVI, MPEG-TS, Ogg, Y4M and
animated GIF, always from memory (a path is read into memory; nothing is written to disk). Size,
duration, resolution and frame-count limits are checked from the container's header before any frame
is decoded; anything unreadable is an ``InvalidVideoError``. Frames without faces are reported, not
errors. ``LiveAnalyzer`` (``tools.live``) runs the same per-frame step on a camera stream.
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tools.errors import FaceAgentError, InvalidRequestError, InvalidVideoError, NoFaceError
from tools.tracking import EmotionSmoother, FaceTracker

__all__ = [
    "VideoLimits",
    "VideoInfo",
    "FaceReading",
    "FrameResult",
    "VideoAnalysis",
    "FaceTracker",
    "EmotionSmoother",
    "FrameAnalyzer",
    "analyze_video",
    "probe_video",
    "read_frames",
    "extract_frame",
    "format_time",
    "parse_time",
    "VIDEO_SUFFIXES",
    "DEFAULT_MAX_FPS",
    "DETECT_SIDE",
]

VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".webm", ".mkv", ".avi", ".gif", ".ts", ".ogv", ".y4m")
DEFAULT_MAX_FPS = 30.0  # "every frame" means every frame up to this rate
DETECT_SIDE = 480  # frames are searched for faces on a copy at most this large
MIN_DETECT_SIDE = 320  # smaller copies would be taken for tight face crops by the detector
# Containers we read (FFmpeg's demuxer names). Others (a text file FFmpeg takes for ANSI art, a still
# photo, subtitles) are refused with a message.
_CONTAINERS = {
    "mov": "MP4/MOV",
    "mp4": "MP4/MOV",
    "matroska": "MKV/WebM",
    "webm": "MKV/WebM",
    "gif": "GIF",
    "avi": "AVI",
    "mpegts": "MPEG-TS",
    "ogg": "Ogg",
    "yuv4mpegpipe": "Y4M",
}
_FORMATS_HINT = "Please upload an MP4, MOV, WebM or MKV video, or an animated GIF."
VideoInput = Any  # str | os.PathLike | bytes | file-like (an upload)
ProgressCallback = Callable[[int, int | None], None]


@dataclass(frozen=True)
class VideoLimits:
    """What a video may be; checked from the header before decoding, and again while decoding.

    Attributes:
        max_bytes: the file size.
        max_duration_s: the duration.
        max_pixels: pixels of one frame (3840x2160 by default).
        max_side: the longer side of a frame.
        max_frames: frames analysed (after sampling with ``fps``).
    """

    max_bytes: int = 200 * 2**20
    max_duration_s: float = 600.0
    max_pixels: int = 3840 * 2160
    max_side: int = 4096
    max_frames: int = 18_000


@dataclass(frozen=True)
class VideoInfo:
    """What the container's header says about the video track."""

    container: str
    codec: str
    width: int
    height: int
    fps: float
    duration_s: float | None
    frames: int | None
    size_bytes: int


@dataclass(frozen=True)
class FaceReading:
    """One face in one frame.

    Attributes:
        track: the face's track id (1, 2 ... in order of first appearance).
        label: the most probable emotion in this frame.
        confidence: its probability.
        probs: every class's probability, in the model's label order.
        box: (x0, y0, x1, y1) in the frame.
        smoothed: the track's smoothed probabilities after this frame, in label order.
        smoothed_label: the most probable emotion of ``smoothed``.
    """

    track: int
    label: str
    confidence: float
    probs: tuple[float, ...]
    box: tuple[int, int, int, int]
    smoothed: tuple[float, ...]
    smoothed_label: str

    def to_dict(self, labels: list[str] | None = None) -> dict[str, Any]:
        """``{"track", "label", "confidence", "box"}`` (+ ``probs`` by label when labels are given)."""
        out: dict[str, Any] = {
            "track": self.track,
            "label": self.label,
            "confidence": round(self.confidence, 4),
            "box": list(self.box),
            "smoothed_label": self.smoothed_label,
        }
        if labels is not None:
            out["probs"] = {k: round(v, 4) for k, v in zip(labels, self.probs)}
        return out


@dataclass(frozen=True)
class FrameResult:
    """The faces of one analysed frame, most prominent first (empty when no face was found)."""

    index: int
    t: float
    faces: tuple[FaceReading, ...]


# --- time strings ----------------------------------------------------------------------------------


def format_time(seconds: float) -> str:
    """``m:ss`` (``m:ss.s`` when not a whole second)."""
    seconds = max(0.0, float(seconds))
    minutes, rest = divmod(seconds, 60.0)
    whole = abs(rest - round(rest)) < 0.05
    return f"{int(minutes)}:{round(rest):02d}" if whole else f"{int(minutes)}:{rest:04.1f}"


def parse_time(text: str) -> float:
    """Seconds from ``"0:05"``, ``"1:02.5"``, ``"5"``, ``"5s"``, ``"5.5 seconds"``.

    Raises:
        InvalidRequestError: not a time.
    """
    value = str(text).strip().lower()
    for suffix in ("seconds", "second", "secs", "sec", "s"):
        if value.endswith(suffix):
            value = value[: -len(suffix)].strip()
            break
    try:
        parts = [float(p) for p in value.split(":")]
    except ValueError:
        raise InvalidRequestError(f"{text!r} is not a time; write it like 0:05 or 5 s.") from None
    if not 1 <= len(parts) <= 3 or any(p < 0 or not math.isfinite(p) for p in parts):
        raise InvalidRequestError(f"{text!r} is not a time; write it like 0:05 or 5 s.")
    seconds = 0.0
    for part in parts:
        seconds = seconds * 60.0 + part
    return seconds


# --- reading and decoding --------------------------------------------------------------------------


def _read_bytes(source: VideoInput, limits: VideoLimits) -> tuple[bytes, str]:
    """The raw bytes of a path, bytes or file-like input, and a name for messages."""
    from tools.images import read_input

    return read_input(
        source,
        what="video",
        max_bytes=limits.max_bytes,
        error=InvalidVideoError,
        too_large=InvalidVideoError,
        hint=_FORMATS_HINT,
    )


def _describe(data: bytes) -> str:
    from PIL import Image

    from tools.images import _describe_unknown

    try:
        with Image.open(io.BytesIO(data)) as image:
            return f"a photo ({image.format})"
    except (OSError, ValueError, Image.DecompressionBombError):  # not a photo either: describe the bytes
        return _describe_unknown(data[:64])


def _video_signature(data: bytes) -> str | None:
    """What a file that FFmpeg could not open claims to be, from its first bytes."""
    if data[4:8] == b"ftyp":
        return "an MP4/MOV video"
    if data[:4] == b"\x1a\x45\xdf\xa3":
        return "a WebM/MKV video"
    if data[:4] == b"RIFF" and data[8:12] == b"AVI ":
        return "an AVI video"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "a GIF"
    if data[:9] == b"YUV4MPEG2":
        return "a Y4M video"
    if data[:4] == b"OggS":
        return "an Ogg video"
    return None


class _Source:
    """An opened container (in memory) with its video stream, checked against the limits."""

    def __init__(self, source: VideoInput, limits: VideoLimits) -> None:
        import av

        data, self.name = _read_bytes(source, limits)
        if not data:
            raise InvalidVideoError(f"{self.name} is empty (0 bytes). " + _FORMATS_HINT)
        if len(data) > limits.max_bytes:
            raise InvalidVideoError(
                f"{self.name} is {len(data) / 2**20:.0f} MB; the limit is {limits.max_bytes / 2**20:.0f} MB. "
                "Please upload a shorter or smaller video."
            )
        self.data = data
        try:
            self.container = av.open(io.BytesIO(data), mode="r", metadata_errors="ignore")
        except Exception as exc:  # FFmpeg refuses it: say what it is instead
            kind = _video_signature(data)
            if kind is not None:
                raise InvalidVideoError(
                    f"{self.name} looks like {kind} but is broken, truncated or empty: it could not be read. "
                    "Export or download it again."
                ) from exc
            raise InvalidVideoError(
                f"{self.name} is {_describe(data)}, not a video we can read. " + _FORMATS_HINT
            ) from exc
        try:
            self._check(limits)
        except FaceAgentError:
            self.close()
            raise
        except Exception as exc:  # a header FFmpeg opened but that makes no sense (fuzzing finds these)
            self.close()
            raise InvalidVideoError(
                f"{self.name} has a broken header: it could not be read as a video. " + _FORMATS_HINT
            ) from exc

    def _check(self, limits: VideoLimits) -> None:
        names = str(self.container.format.name).split(",")
        kind = next((_CONTAINERS[n] for n in names if n in _CONTAINERS), None)
        if kind is None:
            what = _describe(self.data)
            if what == "text" or "photo" in what:
                raise InvalidVideoError(f"{self.name} is {what}, not a video. " + _FORMATS_HINT)
            raise InvalidVideoError(
                f"{self.name} is a {self.container.format.long_name or names[0]} file, not a video format "
                "we read. " + _FORMATS_HINT
            )
        if not self.container.streams:
            raise InvalidVideoError(f"{self.name} contains no video: it has no tracks and no frames.")
        if not self.container.streams.video:
            tracks = ", ".join(sorted({s.type for s in self.container.streams})) or "nothing"
            raise InvalidVideoError(
                f"{self.name} has no video track (it holds {tracks}); there are no faces to see in it."
            )
        self.stream = self.container.streams.video[0]
        ctx = self.stream.codec_context
        width, height = int(ctx.width or 0), int(ctx.height or 0)
        if width <= 0 or height <= 0:
            raise InvalidVideoError(f"{self.name} has a video track without a picture size; it is broken.")
        if width * height > limits.max_pixels or max(width, height) > limits.max_side:
            raise InvalidVideoError(
                f"{self.name} is {width}x{height} pixels a frame; the limit is {limits.max_side} px a side "
                f"and {limits.max_pixels / 1e6:.1f} MP. Please upload a video of at most 4K (3840x2160)."
            )
        rate = self.stream.average_rate or self.stream.guessed_rate or self.stream.base_rate
        fps = float(rate) if rate else 0.0
        duration = None
        if self.stream.duration is not None and self.stream.time_base:
            duration = float(self.stream.duration * self.stream.time_base)
        elif self.container.duration is not None:
            duration = self.container.duration / 1_000_000
        if duration is not None and duration > limits.max_duration_s:
            raise InvalidVideoError(
                f"{self.name} lasts {format_time(duration)}; the limit is {format_time(limits.max_duration_s)}. "
                "Please trim it and upload the part you are interested in."
            )
        frames = int(self.stream.frames) if self.stream.frames else None
        if frames is None and duration is not None and fps > 0:
            frames = int(round(duration * fps))
        self.info = VideoInfo(
            container=kind,
            codec=str(ctx.name),
            width=width,
            height=height,
            fps=fps if 0 < fps < 1000 else 0.0,
            duration_s=duration,
            frames=frames,
            size_bytes=len(self.data),
        )

    def _seek(self, seconds: float) -> float | None:
        """Jumps to the keyframe before ``seconds``; the stream's start time, or None when it cannot."""
        import av

        stream = self.stream
        origin = (
            float(stream.start_time * stream.time_base) if stream.start_time and stream.time_base else 0.0
        )
        try:
            self.container.seek(int((origin + seconds) / stream.time_base), stream=stream, backward=True)
        except (av.error.FFmpegError, ValueError, OverflowError, TypeError, ZeroDivisionError):
            # Not seekable (a GIF, a broken index): start again from the first frame.
            self.close()
            self.container = av.open(io.BytesIO(self.data), mode="r", metadata_errors="ignore")
            self.stream = self.container.streams.video[0]
            return None
        return origin

    def frames(self, limits: VideoLimits, seek_to: float | None = None) -> Iterator[tuple[int, float, Any]]:
        """(index, seconds from the start, av.VideoFrame) of every decodable frame.

        With ``seek_to``, decoding starts at the keyframe before that time (indices then count from
        there). A file that breaks off after some frames ends the iteration with ``self.broken`` set;
        one that yields no frame at all is an ``InvalidVideoError``.
        """
        self.broken: str | None = None
        start: float | None = self._seek(seek_to) if seek_to and seek_to > 1.0 else None
        self.stream.thread_type = "AUTO"
        index = -1
        fallback_step = 1.0 / (self.info.fps or 25.0)
        try:
            for frame in self.container.decode(self.stream):
                index += 1
                t = float(frame.time) if frame.time is not None else index * fallback_step
                start = t if start is None else start
                t -= start
                if t > limits.max_duration_s:
                    raise InvalidVideoError(
                        f"{self.name} runs past {format_time(limits.max_duration_s)}, the limit; "
                        "please trim it."
                    )
                if (
                    frame.width * frame.height > limits.max_pixels
                    or max(frame.width, frame.height) > limits.max_side
                ):
                    raise InvalidVideoError(
                        f"{self.name} has a frame of {frame.width}x{frame.height} pixels, over the limit."
                    )
                yield index, max(0.0, t), frame
        except FaceAgentError:
            raise
        except Exception as exc:  # FFmpeg gave up part-way: keep what was decoded
            if index < 0:
                raise InvalidVideoError(
                    f"{self.name} could not be decoded ({exc}); the file is broken or truncated. "
                    + _FORMATS_HINT
                ) from exc
            self.broken = (
                f"The file is damaged after frame {index + 1}; only the part before it was analysed."
            )
        if index < 0:
            raise InvalidVideoError(
                f"{self.name} contains no video frames (it may be truncated). " + _FORMATS_HINT
            )

    def close(self) -> None:
        import av

        try:
            self.container.close()
        except (av.error.FFmpegError, OSError, ValueError):  # must not mask the real error
            pass


def _to_rgb(frame: Any) -> np.ndarray:
    try:
        rgb = frame.to_ndarray(format="rgb24")
    except Exception as exc:  # a decoded frame FFmpeg cannot convert (a broken stream)
        raise InvalidVideoError(f"A frame of the video could not be converted to RGB ({exc}).") from exc
    rotation = int(getattr(frame, "rotation", 0) or 0) % 360
    if rotation:  # phone videos: the picture is stored sideways with a display rotation
        rgb = np.ascontiguousarray(np.rot90(rgb, k=rotation // 90))
    return rgb


def probe_video(source: VideoInput, limits: VideoLimits | None = None) -> VideoInfo:
    """Reads a video's header (size, rate, duration) and checks the limits, without decoding frames.

    Raises:
        InvalidVideoError: not a readable video, or over a limit.
    """
    src = _Source(source, limits or VideoLimits())
    src.close()
    return src.info


def _sample(frames: Iterator[tuple[int, float, Any]], fps: float | None) -> Iterator[tuple[int, float, Any]]:
    """Keeps about ``fps`` frames a second (every frame when None)."""
    if not fps:
        yield from frames
        return
    step, next_t = 1.0 / fps, 0.0
    for index, t, frame in frames:
        if t + 1e-6 >= next_t:
            yield index, t, frame
            next_t = max(next_t + step, t + step * 0.5)


def _analysed_rate(info: VideoInfo, fps: float | None) -> float | None:
    """The sampling rate: ``fps`` as asked, else every frame up to ``DEFAULT_MAX_FPS``."""
    if fps is not None:
        if not (isinstance(fps, (int, float)) and math.isfinite(fps) and fps > 0):
            raise InvalidRequestError(f"fps must be a positive number of frames a second; got {fps!r}.")
        fps = min(float(fps), info.fps) if info.fps else float(fps)
        return fps
    return DEFAULT_MAX_FPS if info.fps > DEFAULT_MAX_FPS or not info.fps else None


def read_frames(
    source: VideoInput, fps: float | None = None, limits: VideoLimits | None = None
) -> Iterator[tuple[float, np.ndarray]]:
    """Decodes a video from memory: (seconds, RGB uint8 frame) at about ``fps`` frames a second.

    Raises:
        InvalidVideoError: not a readable video, over a limit, or no frames.
    """
    limits = limits or VideoLimits()
    src = _Source(source, limits)
    try:
        rate = _analysed_rate(src.info, fps)
        for _, t, frame in _sample(src.frames(limits), rate):
            yield t, _to_rgb(frame)
    finally:
        src.close()


def extract_frame(
    source: VideoInput, t: float, limits: VideoLimits | None = None
) -> tuple[float, np.ndarray]:
    """The frame shown at ``t`` seconds (the last one before it), as (its time, RGB array).

    Raises:
        InvalidVideoError: not a readable video.
        InvalidRequestError: ``t`` is negative or past the end.
    """
    if not math.isfinite(t) or t < 0:
        raise InvalidRequestError(f"A time in the video must be 0 or more seconds; got {t}.")
    limits = limits or VideoLimits()
    src = _Source(source, limits)
    try:
        best: tuple[float, Any] | None = None
        for _, ft, frame in src.frames(limits, seek_to=t):
            if ft > t + 1e-3 and best is not None:
                break
            best = (ft, frame)
        assert best is not None  # frames() raises when there are none
        if t > best[0] + 1.0:
            raise InvalidRequestError(
                f"The video lasts {format_time(best[0])}; there is no frame at {format_time(t)}."
            )
        return best[0], _to_rgb(best[1])
    finally:
        src.close()


# --- per-frame analysis ----------------------------------------------------------------------------


def _scaled_face(face: Any, scale: float) -> Any:
    """A face found on the detection copy, in the frame's coordinates (box and points scaled back)."""
    return face.rescaled(1.0 / scale)


class FrameAnalyzer:
    """The photo pipeline for one frame after another: detect, align, classify, track, smooth.

    Args:
        classifier: an ``EmotionClassifier``; the cached default model when None.
        detect_side: faces are searched on a copy of the frame at most this many pixels a side.
        smooth_s: the smoothing time constant in seconds (0: no smoothing).
        max_faces: faces kept per frame, most prominent first.
    """

    def __init__(
        self,
        classifier: Any = None,
        detect_side: int = DETECT_SIDE,
        smooth_s: float = 0.5,
        max_faces: int = 10,
    ) -> None:
        if classifier is None:
            from tools.classifier import default_classifier

            classifier = default_classifier(None)
        self.classifier = classifier
        self.labels = list(classifier.labels)
        self.detect_side = max(MIN_DETECT_SIDE, int(detect_side))
        self.max_faces = max_faces
        self.tracker = FaceTracker()
        self.smoother = EmotionSmoother(smooth_s)
        self._size: tuple[int, int] | None = None

    def reset(self) -> None:
        """Starts a new sequence: tracks and smoothing forgotten."""
        self.tracker.reset()
        self.smoother.reset()
        self._size = None

    def detect(self, rgb: np.ndarray) -> list[Any]:
        """The faces of a frame (``tools.faces.Face`` in frame coordinates), most prominent first."""
        import cv2

        from tools.faces import detect_faces

        if not self.classifier.aligns_faces:
            h, w = rgb.shape[:2]
            return self.classifier.faces_of(_Whole(rgb))
        h, w = rgb.shape[:2]
        scale = min(1.0, self.detect_side / max(h, w))
        small = (
            cv2.resize(rgb, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
            if scale < 1.0
            else rgb
        )
        try:
            faces = detect_faces(small, max_faces=self.max_faces)
        except NoFaceError:
            return []
        return [_scaled_face(f, scale) for f in faces]

    def classify(self, rgb: np.ndarray, faces: list[Any]) -> np.ndarray:
        """Probabilities (faces x classes) of the faces of one frame, in one forward pass."""
        if not faces:
            return np.zeros((0, len(self.labels)))
        crops = [self.classifier.align(rgb, f).image for f in faces]
        # The classifier's own pass (ONNX Runtime where the model has a graph).
        return self.classifier.probabilities(crops)

    def process(self, rgb: np.ndarray, t: float, index: int = 0) -> FrameResult:
        """Analyses one RGB frame shown at ``t`` seconds."""
        h, w = rgb.shape[:2]
        if self._size is not None and self._size != (w, h):
            self.tracker.rescale(w / self._size[0], h / self._size[1])
        self._size = (w, h)
        faces = self.detect(rgb)
        probs = self.classify(rgb, faces)
        ids = self.tracker.update([f.box for f in faces], t)
        readings = []
        for face, p, track in zip(faces, probs, ids):
            smoothed = self.smoother.update(track, p, t)
            best, best_s = int(np.argmax(p)), int(np.argmax(smoothed))
            readings.append(
                FaceReading(
                    track=track,
                    label=self.labels[best],
                    confidence=float(p[best]),
                    probs=tuple(float(v) for v in p),
                    box=tuple(int(v) for v in face.box),
                    smoothed=tuple(float(v) for v in smoothed),
                    smoothed_label=self.labels[best_s],
                )
            )
        return FrameResult(index, round(float(t), 4), tuple(readings))


class _Whole:
    """Stands in for an ImageRecord for models that read the whole frame (card alignment ``none``)."""

    def __init__(self, rgb: np.ndarray) -> None:
        self.rgb = rgb


# --- the result ------------------------------------------------------------------------------------


@dataclass
class VideoAnalysis:
    """Everything ``analyze_video`` found.

    Attributes:
        name: the file's name (for messages).
        labels: the model's classes, in output order (``probs`` tuples follow it).
        model: the model's name.
        frames: every analysed frame, in order, with its faces.
        duration_s: seconds from the first frame to the end of the last.
        fps_analyzed: frames analysed per second of video.
        info: the header facts (size, codec, source rate).
        warnings: what the person should know (a damaged end, no face anywhere ...).
        hold_s: how long a new reading must hold to count as a change.
    """

    name: str
    labels: list[str]
    model: str
    frames: list[FrameResult]
    duration_s: float
    fps_analyzed: float
    info: VideoInfo
    warnings: list[str] = field(default_factory=list)
    hold_s: float = 0.5

    # -- views ---------------------------------------------------------------------------------

    @property
    def tracks(self) -> list[int]:
        """Track ids, in order of first appearance."""
        seen: dict[int, None] = {}
        for frame in self.frames:
            for face in frame.faces:
                seen.setdefault(face.track, None)
        return list(seen)

    def readings(self, track: int) -> list[tuple[float, FaceReading]]:
        """(seconds, reading) of one track, in time order."""
        return [(fr.t, f) for fr in self.frames for f in fr.faces if f.track == track]

    @property
    def frames_without_faces(self) -> int:
        """How many analysed frames had no face."""
        return sum(1 for fr in self.frames if not fr.faces)

    def no_face_spans(self) -> list[tuple[float, float]]:
        """(start, end) seconds of the stretches where no face was found."""
        spans: list[tuple[float, float]] = []
        step = 1.0 / self.fps_analyzed if self.fps_analyzed else 0.0
        start = None
        for fr in self.frames:
            if not fr.faces and start is None:
                start = fr.t
            elif fr.faces and start is not None:
                spans.append((start, fr.t))
                start = None
        if start is not None:
            spans.append((start, self.frames[-1].t + step))
        return spans

    def _track_of(self, track: int | None) -> int | None:
        tracks = self.tracks
        if track is None:
            return self.main_track()
        if track not in tracks:
            raise InvalidRequestError(
                f"There is no face track {track} in {self.name}; the tracks are "
                f"{', '.join(map(str, tracks)) or 'none (no face was found)'}."
            )
        return track

    def main_track(self) -> int | None:
        """The track seen in the most frames (the main person), or None without faces."""
        counts = {k: len(self.readings(k)) for k in self.tracks}
        return max(counts, key=lambda k: counts[k]) if counts else None

    def dominant(self, track: int | None = None, start: float = 0.0, end: float = math.inf) -> str | None:
        """The emotion read most often (smoothed) for a track between two times; None if not seen.

        Ties go to the higher mean probability.
        """
        track = self._track_of(track)
        rows = [f for t, f in self.readings(track) if start <= t < end] if track is not None else []
        if not rows:
            return None
        counts = np.zeros(len(self.labels))
        for f in rows:
            counts[self.labels.index(f.smoothed_label)] += 1
        mean = np.mean([f.probs for f in rows], axis=0)
        order = np.lexsort((mean, counts))
        return self.labels[int(order[-1])]

    def changes(self, track: int | None = None) -> list[dict[str, Any]]:
        """When the smoothed reading of a track changed and held for ``hold_s``: ``{"t", "from", "to"}``."""
        track = self._track_of(track)
        if track is None:
            return []
        rows = self.readings(track)
        out: list[dict[str, Any]] = []
        current: str | None = None
        candidate: tuple[str, float] | None = None
        for t, f in rows:
            label = f.smoothed_label
            if current is None:
                current = label
                continue
            if label == current:
                candidate = None
                continue
            if candidate is None or candidate[0] != label:
                candidate = (label, t)
            if t - candidate[1] >= self.hold_s - 1e-6 or (
                t == rows[-1][0] and t - candidate[1] >= self.hold_s / 2
            ):
                out.append({"t": round(candidate[1], 2), "from": current, "to": label})
                current, candidate = label, None
        return out

    def peak(self, emotion: str, track: int | None = None) -> dict[str, Any] | None:
        """When a track read ``emotion`` most strongly (smoothed): ``{"t", "probability", "track"}``."""
        if emotion not in self.labels:
            raise InvalidRequestError(
                f"{emotion!r} is not one of this model's emotions ({', '.join(self.labels)})."
            )
        track = self._track_of(track)
        if track is None:
            return None
        k = self.labels.index(emotion)
        t, f = max(self.readings(track), key=lambda tf: tf[1].smoothed[k])
        return {"t": t, "probability": round(f.smoothed[k], 4), "track": track}

    def timeline(self, step: float = 1.0) -> list[dict[str, Any]]:
        """Mean probabilities per track per ``step`` seconds: ``{"start", "track", "label", "probs", "frames"}``.

        A bin where no face was seen has one row with ``track`` None and ``frames`` 0.
        """
        if step <= 0:
            raise InvalidRequestError("The timeline step must be positive.")
        bins: dict[int, dict[int, list[tuple[float, ...]]]] = {}
        count = max(1, math.ceil(self.duration_s / step - 1e-9))
        for fr in self.frames:
            b = min(count - 1, int(fr.t / step + 1e-9))
            slot = bins.setdefault(b, {})
            for f in fr.faces:
                slot.setdefault(f.track, []).append(f.probs)
        rows = []
        for b in range(count):
            slot = bins.get(b, {})
            if not slot:
                rows.append(
                    {"start": round(b * step, 3), "track": None, "label": None, "probs": {}, "frames": 0}
                )
                continue
            for track in sorted(slot):
                mean = np.mean(slot[track], axis=0)
                rows.append(
                    {
                        "start": round(b * step, 3),
                        "track": track,
                        "label": self.labels[int(np.argmax(mean))],
                        "probs": {k: round(float(v), 4) for k, v in zip(self.labels, mean)},
                        "frames": len(slot[track]),
                    }
                )
        return rows

    def summary(self) -> dict[str, Any]:
        """Per track: seen from/to, frames, dominant emotion, mean probabilities, changes and peaks."""
        tracks = []
        for track in self.tracks:
            rows = self.readings(track)
            mean = np.mean([f.probs for _, f in rows], axis=0)
            peaks = {}
            for k, label in enumerate(self.labels):
                t, f = max(rows, key=lambda tf, k=k: tf[1].smoothed[k])
                peaks[label] = {"t": t, "probability": round(f.smoothed[k], 4)}
            tracks.append(
                {
                    "track": track,
                    "first_s": rows[0][0],
                    "last_s": rows[-1][0],
                    "frames": len(rows),
                    "dominant": self.dominant(track),
                    "mean_probs": {k: round(float(v), 4) for k, v in zip(self.labels, mean)},
                    "changes": self.changes(track),
                    "peaks": peaks,
                }
            )
        tracks.sort(key=lambda d: -d["frames"])
        return {
            "frames_analyzed": len(self.frames),
            "frames_without_faces": self.frames_without_faces,
            "no_face_spans": [[round(a, 2), round(b, 2)] for a, b in self.no_face_spans()],
            "tracks": tracks,
            "warnings": list(self.warnings),
        }

    def describe(self) -> str:
        """A short paragraph: who was seen, their dominant emotion and how it changed."""
        summary = self.summary()
        if not summary["tracks"]:
            return (
                f"No face was found in any of the {len(self.frames)} analysed frames of {self.name} "
                f"({format_time(self.duration_s)})."
            )
        parts = [f"{self.name} ({format_time(self.duration_s)}, {len(self.frames)} frames analysed):"]
        for tr in summary["tracks"][:4]:
            text = (
                f"face {tr['track']} (seen {format_time(tr['first_s'])}–{format_time(tr['last_s'])}) "
                f"is mostly {tr['dominant']}"
            )
            if tr["changes"]:
                steps = ", ".join(f"{c['to']} at {format_time(c['t'])}" for c in tr["changes"][:6])
                text += f", then {steps}"
            parts.append(text + ".")
        if summary["frames_without_faces"]:
            parts.append(f"{summary['frames_without_faces']} frames had no face.")
        parts.extend(self.warnings)
        return " ".join(parts)

    # -- export --------------------------------------------------------------------------------

    def to_dict(self, probs: bool = False, timeline: bool = False) -> dict[str, Any]:
        """Plain types for JSON: ``{"duration_s", "fps_analyzed", "frames": [{"t", "faces": [...]}], "summary"}``.

        Args:
            probs: add every class's probability to each face.
            timeline: add the per-second timeline.
        """
        labels = self.labels if probs else None
        out: dict[str, Any] = {
            "name": self.name,
            "model": self.model,
            "labels": list(self.labels),
            "duration_s": round(self.duration_s, 3),
            "fps_analyzed": round(self.fps_analyzed, 3),
            "width": self.info.width,
            "height": self.info.height,
            "frames": [{"t": fr.t, "faces": [f.to_dict(labels) for f in fr.faces]} for fr in self.frames],
            "summary": self.summary(),
        }
        if timeline:
            out["timeline"] = self.timeline()
        return out

    def to_csv(self) -> str:
        """One row per face per frame (a row with an empty track for a frame without faces)."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(
            ["t", "frame", "track", "label", "confidence", "smoothed_label", "x0", "y0", "x1", "y1"]
            + [f"p_{label}" for label in self.labels]
        )
        for fr in self.frames:
            if not fr.faces:
                writer.writerow([f"{fr.t:.3f}", fr.index] + [""] * (8 + len(self.labels)))
            for f in fr.faces:
                writer.writerow(
                    [
                        f"{fr.t:.3f}",
                        fr.index,
                        f.track,
                        f.label,
                        f"{f.confidence:.4f}",
                        f.smoothed_label,
                        *f.box,
                    ]
                    + [f"{p:.4f}" for p in f.probs]
                )
        return buffer.getvalue()


# --- the entry point -------------------------------------------------------------------------------


def analyze_video(
    source: VideoInput,
    fps: float | None = None,
    *,
    classifier: Any = None,
    progress: ProgressCallback | None = None,
    detect_side: int = DETECT_SIDE,
    smooth_s: float = 0.5,
    hold_s: float = 0.5,
    limits: VideoLimits | None = None,
    name: str | None = None,
    threads: int | None = 1,
) -> VideoAnalysis:
    """Reads the emotions of the faces of a video, frame by frame, with tracks and a timeline.

    Args:
        source: a path, bytes or a file-like upload (decoded in memory).
        fps: frames to analyse per second of video; None for every frame up to 30 a second.
        classifier: an ``EmotionClassifier``; the cached default model when None.
        progress: called as ``progress(frames_done, frames_expected_or_None)`` after each frame.
        detect_side: faces are searched on a copy of each frame at most this large.
        smooth_s: time constant of the per-track smoothing.
        hold_s: how long a new reading must hold to count as a change.
        limits: size, duration and resolution limits (checked before decoding).
        name: a name for messages (the file name by default).
        threads: torch intra-op threads while analysing (restored afterwards); None leaves torch's
            setting. One is fastest for per-frame forward passes of small models: on 2 busy cores an
            OpenMP team of 2 made each frame 10x slower (docs/PERFORMANCE.md).

    Raises:
        InvalidVideoError: not a readable video, over a limit, or no frames.
        InvalidRequestError: a bad ``fps``.
        ModelUnavailableError: the model could not be loaded.
    """
    limits = limits or VideoLimits()
    src = _Source(source, limits)
    with _torch_threads(threads):
        try:
            return _analyze(src, fps, classifier, progress, detect_side, smooth_s, hold_s, limits, name)
        finally:
            src.close()


@contextlib.contextmanager
def _torch_threads(threads: int | None) -> Iterator[None]:
    from tools.device import limit_torch_threads

    restore = limit_torch_threads(threads)  # nothing to set when torch is not loaded (ONNX Runtime)
    try:
        yield
    finally:
        restore()


def _analyze(
    src: _Source,
    fps: float | None,
    classifier: Any,
    progress: ProgressCallback | None,
    detect_side: int,
    smooth_s: float,
    hold_s: float,
    limits: VideoLimits,
    name: str | None,
) -> VideoAnalysis:
    info = src.info
    rate = _analysed_rate(info, fps)
    expected = None
    if info.duration_s is not None:
        per_s = rate or info.fps
        expected = max(1, int(math.ceil(info.duration_s * per_s - 1e-6))) if per_s else info.frames
    if expected is not None and expected > limits.max_frames:
        raise InvalidVideoError(
            f"{src.name} would need {expected} frames analysed; the limit is {limits.max_frames}. "
            "Analyse fewer frames a second (fps) or a shorter clip."
        )
    analyzer = FrameAnalyzer(classifier, detect_side=detect_side, smooth_s=smooth_s)
    frames: list[FrameResult] = []
    last_t, step = 0.0, 0.0
    for index, t, frame in _sample(src.frames(limits), rate):
        if len(frames) >= limits.max_frames:
            raise InvalidVideoError(
                f"{src.name} has more than {limits.max_frames} frames to analyse; use a lower fps."
            )
        frames.append(analyzer.process(_to_rgb(frame), t, index))
        step = t - last_t if len(frames) > 1 else step
        last_t = t
        if progress is not None:
            progress(len(frames), expected)
    warnings = [src.broken] if src.broken else []
    frame_step = (1.0 / rate) if rate else (1.0 / info.fps if info.fps else step)
    duration = max(info.duration_s or 0.0, last_t + frame_step) if not src.broken else last_t + frame_step
    result = VideoAnalysis(
        name=name or src.name,
        labels=analyzer.labels,
        model=analyzer.classifier.name,
        frames=frames,
        duration_s=float(duration),
        fps_analyzed=len(frames) / duration if duration > 0 else 0.0,
        info=info,
        warnings=warnings,
        hold_s=hold_s,
    )
    if not result.tracks:
        result.warnings.append(
            "No face was found in any frame: use a video where a face is visible, upright and well lit."
        )
    return result
