"""Faces in motion: the photo pipeline applied to the frames of a video, with tracks and a timeline.

    from tools import analyze_video
    result = analyze_video("clip.mp4", fps=10)      # VideoAnalysis
    result.story()                                  # "... the face is sad from 0:00 to 0:06.5, then ..."
    result.phases(), result.peak("happy")           # the stretches of the main face; its happiest one
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
- **phases and the story**: per track, the stretches where one emotion (or one mix) holds, from the
  smoothed readings with flickers merged, told with their times; changes and peaks follow from them.
- **timeline and summary**: mean probabilities per track per second; per track the dominant
  emotion, the phases, changes and peaks.

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
import itertools
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tools.errors import (
    FaceAgentError,
    InvalidRequestError,
    InvalidVideoError,
    NoFaceError,
    VideoTooLargeError,
)
from tools.tracking import EmotionSmoother, FaceTracker

__all__ = [
    "VideoLimits",
    "VideoInfo",
    "FaceReading",
    "FrameResult",
    "Phase",
    "VideoAnalysis",
    "FaceTracker",
    "EmotionSmoother",
    "FrameAnalyzer",
    "analyze_video",
    "probe_video",
    "read_frames",
    "extract_frame",
    "frame_faces",
    "frame_record",
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


@dataclass(frozen=True)
class Phase:
    """A stretch of one face's video where one emotion, or one mix of emotions, holds.

    Attributes:
        track: the face's track id.
        start_s: when the stretch starts (seconds from the start of the video).
        end_s: when it ends (the next phase's start, or the end of the face's last frame).
        emotion: the emotion with the highest mean smoothed probability over the stretch.
        emotions: the emotions the stretch is named after, strongest first: ``emotion`` alone when it
            holds at least ``PURE_PHASE`` on average; else every emotion with at least ``MIXED_SHARE``
            (up to three).
        mixed: no single emotion holds at least ``PURE_PHASE`` on average.
        mean_probs: label -> mean smoothed probability over the stretch (time-weighted).
        peak_t: when ``emotion`` is strongest (smoothed) in the stretch: the first frame within half a
            percentage point of its highest value, not the last.
        peak_probability: that highest value.
        frames: analysed frames in the stretch.
    """

    track: int
    start_s: float
    end_s: float
    emotion: str
    emotions: tuple[str, ...]
    mixed: bool
    mean_probs: dict[str, float]
    peak_t: float
    peak_probability: float
    frames: int

    @property
    def duration_s(self) -> float:
        """How long the stretch lasts."""
        return self.end_s - self.start_s

    @property
    def name(self) -> str:
        """How a person says it: ``sad``, ``fear and sad``, ``mostly fear`` (a weak lead, nothing beside it)."""
        from tools.labels import display_name

        names = [display_name(e) for e in self.emotions]
        if not self.mixed:
            return names[0]
        if len(names) == 1:
            return f"mostly {names[0]}"
        return ", ".join(names[:-1]) + " and " + names[-1]

    def to_dict(self) -> dict[str, Any]:
        """Plain types for JSON."""
        return {
            "track": self.track,
            "start_s": self.start_s,
            "end_s": self.end_s,
            "name": self.name,
            "emotion": self.emotion,
            "emotions": list(self.emotions),
            "mixed": self.mixed,
            "mean_probs": dict(self.mean_probs),
            "peak": {"t": self.peak_t, "probability": self.peak_probability},
            "frames": self.frames,
        }


PURE_PHASE = 0.6  # a phase is named after one emotion when it holds this much on average ...
MIXED_SHARE = 0.15  # ... else after every emotion holding at least this much (up to three)
NO_FACE_WARNING = "No face was found in any frame: use a video where a face is visible, upright and well lit."
PEAK_TIE = 0.005  # smoothed values this close to the highest are the same peak (the same whole percent)


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
        too_large=VideoTooLargeError,
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
            raise VideoTooLargeError(
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


def _merge_runs(
    top: np.ndarray,
    times: np.ndarray,
    ends: np.ndarray,
    mean: Callable[[list[int]], np.ndarray],
    min_s: float,
) -> list[list[int]]:
    """Runs of the same label ``top``, as [start, stop) indices, with runs under ``min_s`` merged.

    The shortest run goes first, into the neighbour whose mean probabilities are closest (the longer
    on a tie); after each merge, neighbours with the same main emotion are joined. A heap and a linked
    list keep this near O(n log n): a noisy ten-minute track can start with thousands of runs.
    """
    import heapq

    cuts = [0, *(int(i) for i in np.flatnonzero(top[1:] != top[:-1]) + 1), len(top)]
    stop = dict(itertools.pairwise(cuts))  # run start -> run stop
    before = {b: a for a, b in itertools.pairwise(cuts[:-1])}
    after = {a: b for a, b in itertools.pairwise(cuts[:-1])}

    def length(a: int) -> float:
        return float(ends[stop[a] - 1] - times[a])

    def main(a: int) -> int:
        return int(np.argmax(mean([a, stop[a]])))

    def join(a: int, b: int) -> int:  # b is the run right after a
        stop[a] = stop.pop(b)
        following = after.pop(b, None)
        before.pop(b, None)
        if following is None:
            after.pop(a, None)
        else:
            after[a], before[following] = following, a
        return a

    heap = [(length(a), a) for a in stop if length(a) < min_s - 1e-9]
    heapq.heapify(heap)
    while heap and len(stop) > 1:
        size, a = heapq.heappop(heap)
        if a not in stop or length(a) != size:
            continue  # merged away, or grown since it was pushed
        here = mean([a, stop[a]])
        j = min(
            (k for k in (before.get(a), after.get(a)) if k is not None),
            key=lambda k: (float(np.abs(mean([k, stop[k]]) - here).sum()), -length(k)),
        )
        a = join(j, a) if j < a else join(a, j)
        while a in before and main(before[a]) == main(a):
            a = join(before[a], a)
        while a in after and main(after[a]) == main(a):
            a = join(a, after[a])
        if length(a) < min_s - 1e-9:
            heapq.heappush(heap, (length(a), a))
    return [[a, stop[a]] for a in sorted(stop)]


def _phase_names(mean: np.ndarray) -> tuple[tuple[int, ...], bool]:
    """The label indices a phase is named after (strongest first), and whether it is mixed."""
    order = [int(k) for k in np.argsort(-mean, kind="stable")]
    if mean[order[0]] >= PURE_PHASE:
        return (order[0],), False
    return tuple(k for k in order[:3] if mean[k] >= MIXED_SHARE) or (order[0],), True


def frame_faces(rgb: np.ndarray, detect_side: int = DETECT_SIDE, max_faces: int = 10) -> list[Any]:
    """The faces of a video frame as the video analysis finds them, most prominent first (maybe none).

    Faces are searched on a copy at most ``detect_side`` pixels a side (the photo pipeline searches
    larger copies), and their boxes and points mapped back to the frame.
    """
    import cv2

    from tools.faces import detect_faces

    h, w = rgb.shape[:2]
    scale = min(1.0, max(MIN_DETECT_SIDE, int(detect_side)) / max(h, w))
    small = (
        cv2.resize(rgb, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
        if scale < 1.0
        else rgb
    )
    try:
        faces = detect_faces(small, max_faces=max_faces)
    except NoFaceError:
        return []
    return [_scaled_face(f, scale) for f in faces]


def frame_record(rgb: np.ndarray, detect_side: int = DETECT_SIDE) -> Any:
    """A video frame as a photo (``tools.analysis.ImageRecord``) whose faces are the video analysis's.

    The photo tools then read the frame exactly as the analysis read it (same faces, same crops):
    a frame taken from a video agrees with the video's single-frame reading at that moment. The 68
    landmarks are fitted on the full frame, as for a photo. When the analysis's search finds no face,
    the photo's own (larger) search runs instead.
    """
    from tools.analysis import ImageRecord, image_key
    from tools.faces import Face, _lazy_landmarks

    faces = [
        Face(
            f.box,
            f.score,
            None,
            f.source,
            points5=f.points5(),
            fit=_lazy_landmarks(rgb, f.points5()),
            detector=f.detector,
        )
        for f in frame_faces(rgb, detect_side)
    ]
    key = f"{image_key(rgb)}:video-faces-{max(MIN_DETECT_SIDE, int(detect_side))}"
    return ImageRecord(rgb, key, faces=faces or None)


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
        if not self.classifier.aligns_faces:
            return self.classifier.faces_of(_Whole(rgb))
        return frame_faces(rgb, self.detect_side, self.max_faces)

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
        for track in self.tracker.started:
            self.smoother.forget(track)
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
        hold_s: the shortest phase (see ``phases``), or a twentieth of the video when that is longer.
        smooth_s: the time constant of the per-track smoothing the ``smoothed`` readings went through.
        detect_side: faces were searched on a copy of each frame at most this many pixels a side.
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
    smooth_s: float = 0.5
    detect_side: int = DETECT_SIDE
    _segments: dict[int, list[tuple[Phase, int, int]]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

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

    @property
    def step_s(self) -> float:
        """Seconds between analysed frames (on average)."""
        return 1.0 / self.fps_analyzed if self.fps_analyzed else 0.0

    @property
    def min_phase_s(self) -> float:
        """The shortest phase: ``hold_s``, or a twentieth of the video when that is longer."""
        return max(self.hold_s, self.duration_s / 20)

    def frame_at(self, t: float) -> FrameResult | None:
        """The analysed frame shown at ``t`` seconds (the last one at or before it); None before the first."""
        best = None
        for fr in self.frames:
            if fr.t > t + 1e-3:
                break
            best = fr
        return best

    def phases(self, track: int | None = None) -> list[Phase]:
        """The story of one face (the main one when None): the stretches where one emotion or mix holds.

        Built from the smoothed readings: runs of the same smoothed label, where a run shorter than
        ``min_phase_s`` is merged into the neighbour whose mean probabilities are closest (shortest
        first), and neighbours with the same main emotion are joined. The smoothing lags the face by a
        fraction of a second, so each boundary is moved back to where the single-frame readings first
        show the new phase's emotion (one of them, for a mix), by at most three time constants. A phase
        is named after its mean smoothed probabilities: one emotion when it holds ``PURE_PHASE`` on
        average, else the emotions holding at least ``MIXED_SHARE`` ("fear and sad").
        """
        track = self._track_of(track)
        if track is None:
            return []
        return [phase for phase, _, _ in self._segment(track)]

    def _segment(self, track: int) -> list[tuple[Phase, int, int]]:
        """Phases of a track with the [start, stop) indices of their readings (computed once)."""
        if track in self._segments:
            return self._segments[track]
        rows = self.readings(track)
        times = np.array([t for t, _ in rows])
        smoothed = np.array([f.smoothed for _, f in rows])
        raw = np.array([self.labels.index(f.label) for _, f in rows])
        ends = np.append(times[1:], times[-1] + self.step_s)  # a reading holds until the next one
        weights = np.maximum(ends - times, 1e-6)
        min_s = self.min_phase_s

        totals = np.concatenate([[0.0], np.cumsum(weights)])
        sums = np.vstack([np.zeros(smoothed.shape[1]), np.cumsum(smoothed * weights[:, None], axis=0)])

        def mean(span: list[int]) -> np.ndarray:  # time-weighted, from prefix sums
            return (sums[span[1]] - sums[span[0]]) / (totals[span[1]] - totals[span[0]])

        spans = _merge_runs(smoothed.argmax(axis=1), times, ends, mean, min_s)
        lag = 3.0 * self.smooth_s
        for previous, span in itertools.pairwise(spans):
            named, i = _phase_names(mean(span))[0], span[0]
            while (
                i - 1 > previous[0]
                and raw[i - 1] in named
                and times[span[0]] - times[i - 1] <= lag + 1e-9
                and ends[i - 2] - times[previous[0]] >= min_s - 1e-9
            ):
                i -= 1
            previous[1] = span[0] = i
        out = []
        for a, b in spans:
            m = mean([a, b])
            names, mixed = _phase_names(m)
            values = smoothed[a:b, names[0]]
            first = int(np.argmax(values >= values.max() - PEAK_TIE))
            phase = Phase(
                track=track,
                start_s=round(float(times[a]), 2),
                end_s=round(float(ends[b - 1]), 2),
                emotion=self.labels[names[0]],
                emotions=tuple(self.labels[k] for k in names),
                mixed=mixed,
                mean_probs={label: round(float(v), 4) for label, v in zip(self.labels, m)},
                peak_t=round(float(times[a + first]), 2),
                peak_probability=round(float(values.max()), 4),
                frames=b - a,
            )
            out.append((phase, a, b))
        self._segments[track] = out
        return out

    def changes(self, track: int | None = None) -> list[dict[str, Any]]:
        """Where one phase gives way to the next: ``{"t", "from", "to", "from_phase", "to_phase"}``.

        ``from`` and ``to`` are the phases' main emotions; ``from_phase`` and ``to_phase`` their names
        (``"fear and sad"`` for a mixed one). See ``phases``.
        """
        phases = self.phases(track)
        return [
            {"t": b.start_s, "from": a.emotion, "to": b.emotion, "from_phase": a.name, "to_phase": b.name}
            for a, b in itertools.pairwise(phases)
        ]

    def peak(self, emotion: str, track: int | None = None) -> dict[str, Any] | None:
        """When a track was most ``emotion``: the stretch, and the moment inside it (smoothed readings).

        The stretch is the phase named after ``emotion`` with its highest mean (the longer on a tie);
        the moment is the first frame within half a percentage point of the highest smoothed value in
        it, and ``until`` the end of that plateau. When no phase is named after ``emotion`` (it never
        leads), the moment is searched over the whole track and the stretch is None.

        Returns:
            ``{"t", "until", "probability", "track", "start_s", "end_s", "phase", "mean"}``
            (``start_s``, ``end_s``, ``phase`` and ``mean`` None without a stretch), or None when the
            video has no face.
        """
        if emotion not in self.labels:
            raise InvalidRequestError(
                f"{emotion!r} is not one of this model's emotions ({', '.join(self.labels)})."
            )
        track = self._track_of(track)
        if track is None:
            return None
        return self._peak(emotion, track)

    def _peak(self, emotion: str, track: int) -> dict[str, Any]:
        k = self.labels.index(emotion)
        rows = self.readings(track)
        named = [(p, a, b) for p, a, b in self._segment(track) if emotion in p.emotions]
        best, a, b = (None, 0, len(rows))
        if named:
            best, a, b = max(named, key=lambda pab: (pab[0].mean_probs[emotion], pab[0].duration_s))
        values = np.array([f.smoothed[k] for _, f in rows[a:b]])
        near = values >= values.max() - PEAK_TIE
        first = int(np.argmax(near))
        last = first
        while last + 1 < len(near) and near[last + 1]:
            last += 1
        until = rows[a + last + 1][0] if a + last + 1 < len(rows) else rows[-1][0] + self.step_s
        return {
            "t": round(rows[a + first][0], 2),
            "until": round(float(until), 2),
            "probability": round(float(values.max()), 4),
            "track": track,
            "start_s": best.start_s if best else None,
            "end_s": best.end_s if best else None,
            "phase": best.name if best else None,
            "mean": best.mean_probs[emotion] if best else None,
        }

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
        """Per track: seen from/to, frames, dominant emotion, mean probabilities, phases, changes, peaks.

        Also ``story``: the phases told in words (see ``story``).
        """
        tracks = []
        for track in self.tracks:
            rows = self.readings(track)
            mean = np.mean([f.probs for _, f in rows], axis=0)
            peaks = {}
            for label in self.labels:
                peak = self._peak(label, track)
                peak.pop("track")
                peaks[label] = peak
            tracks.append(
                {
                    "track": track,
                    "first_s": rows[0][0],
                    "last_s": rows[-1][0],
                    "frames": len(rows),
                    "dominant": self.dominant(track),
                    "mean_probs": {k: round(float(v), 4) for k, v in zip(self.labels, mean)},
                    "phases": [p.to_dict() for p in self.phases(track)],
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
            "smooth_s": self.smooth_s,
            "min_phase_s": round(self.min_phase_s, 2),
            "story": self.story(),
            "warnings": list(self.warnings),
        }

    def end_words(self, t: float) -> str:
        """``the end`` for a time within a frame of the end of the video, else the time."""
        return "the end" if t >= self.duration_s - 1.5 * self.step_s - 1e-6 else format_time(t)

    def face_story(self, track: int | None = None, who: str = "the face", max_phases: int = 8) -> str:
        """One face's phases in words: ``the face is sad from 0:00 to 0:06.2, then happy to the end``."""
        phases = self.phases(track)
        if not phases:
            return f"{who} is not seen"
        first, last = phases[0], phases[-1]
        if len(phases) == 1:
            if first.start_s <= 1.5 * self.step_s and self.end_words(last.end_s) == "the end":
                return f"{who} is {first.name} the whole time"
            return (
                f"{who} is {first.name} throughout ({format_time(first.start_s)}–{format_time(last.end_s)})"
            )
        shown = phases if len(phases) <= max_phases else phases[: max_phases - 1]
        parts = [f"{first.name} from {format_time(first.start_s)} to {format_time(phases[1].start_s)}"]
        for i, phase in enumerate(shown[1:], start=1):
            end = phases[i + 1].start_s if i + 1 < len(phases) else last.end_s
            parts.append(f"then {phase.name} to {self.end_words(end) if phase is last else format_time(end)}")
        if len(shown) < len(phases):
            parts.append(
                f"… ({len(phases) - len(shown) - 1} more), then {last.name} from {format_time(last.start_s)} "
                f"to {self.end_words(last.end_s)}"
            )
        return f"{who} is " + ", ".join(parts)

    def story(self, track: int | None = None, max_faces: int = 4) -> str:
        """What happens in the video, told per face with times, and where no face is seen.

        ``mood.mp4 (0:19.7, 472 frames analysed): the face is sad from 0:00 to 0:06.2, then fear and
        sad to 0:09.4, then happy to the end.`` Several faces are told one after the other
        (``face 1 is ...; face 2 is ...``); ``track`` tells one face only.
        """
        if not self.tracks:
            return " ".join(
                [
                    f"No face was found in any of the {len(self.frames)} analysed frames of {self.name} "
                    f"({format_time(self.duration_s)}): use a video where a face is visible, upright and well lit.",
                    *(w for w in self.warnings if w != NO_FACE_WARNING),
                ]
            )
        many = len(self.tracks) > 1
        tracks = [self._track_of(track)] if track is not None else self.tracks
        faces = [self.face_story(k, f"face {k}" if many else "the face") for k in tracks[:max_faces]]
        text = f"{self.name} ({format_time(self.duration_s)}, {len(self.frames)} frames analysed): "
        text += "; ".join(faces)
        if len(tracks) > max_faces:
            text += f"; and {len(tracks) - max_faces} more faces"
        text += "."
        if self.frames_without_faces:
            spans, brief = [], 0
            for a, b in self.no_face_spans():
                if b - a < self.min_phase_s - 1e-9:
                    brief += 1  # a missed detection or two, like the flickers the phases ignore
                elif a <= self.step_s / 2:
                    spans.append(f"until {format_time(b)}")
                else:
                    spans.append(f"{format_time(a)} to {self.end_words(b)}")
            if len(spans) > 4:
                spans[4:] = [f"{len(spans) - 4} more stretches"]
            if brief:
                moments = "a brief moment" if brief == 1 else f"{brief} brief moments"
                spans.append(f"and {moments}" if spans else moments)
            text += f" {self.frames_without_faces} frames had no face ({', '.join(spans)})."
        text += (
            f" (Readings smoothed over ~{self.smooth_s:g} s; stretches under {self.min_phase_s:.1f} s are "
            "merged into a neighbour.)"
        )
        return " ".join([text, *self.warnings])

    def describe(self) -> str:
        """A short paragraph: what happens to each face, with times (``story``)."""
        return self.story()

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
        smooth_s=smooth_s,
        detect_side=analyzer.detect_side,
    )
    if not result.tracks:
        result.warnings.append(NO_FACE_WARNING)
    return result
