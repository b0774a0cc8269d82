"""Following faces through a video: track ids by position, and smoothed readings per track.

``FaceTracker`` gives each face a stable id across frames from where it is (no identity
recognition); ``EmotionSmoother`` averages each track's probabilities over time with a time
constant, so the result does not depend on the frame rate. Both are pure numpy (scipy's assignment
only when several faces compete), used by ``tools.video`` and ``tools.live``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

__all__ = ["FaceTracker", "EmotionSmoother"]


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def _assign(cost: np.ndarray) -> tuple[list[int], list[int]]:
    """The optimal assignment of rows to columns (scipy's, loaded only when there is a choice)."""
    if cost.shape == (1, 1) or min(cost.shape) == 0:
        return [0] * min(cost.shape), [0] * min(cost.shape)
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(cost)
    return list(rows), list(cols)


@dataclass
class _Track:
    id: int
    box: np.ndarray  # x0, y0, x1, y1 (float)
    t: float
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))  # centre, px per second
    hits: int = 1

    def predicted(self, t: float) -> np.ndarray:
        dt = max(0.0, t - self.t)
        shift = self.velocity * dt
        return self.box + np.array([shift[0], shift[1], shift[0], shift[1]])


class FaceTracker:
    """Gives each face a stable id across frames by where it is, not who it is.

    Each track's box is predicted forward with its velocity; detections are matched to predictions by
    an optimal assignment on a cost mixing overlap (IoU) and centre distance (in face sizes), so two
    faces that pass each other keep their ids. A track with no match for ``max_missed_s`` ends.

    Args:
        max_missed_s: how long a track waits for its face to come back.
        max_distance: the farthest (in face sizes) a face may be from its prediction to match.
        reuse_ids: a new track takes the smallest id no live track holds (a live view, where a
            person who looks away and back should stay "face 1"); otherwise ids are never reused
            (a video's timeline, where an id is one stretch of one face).
    """

    def __init__(self, max_missed_s: float = 1.0, max_distance: float = 1.5, reuse_ids: bool = False) -> None:
        self.max_missed_s = max_missed_s
        self.max_distance = max_distance
        self.reuse_ids = reuse_ids
        self._tracks: list[_Track] = []
        self._next = 1
        self.started: list[int] = []  # the ids the last update gave to new tracks

    def reset(self) -> None:
        """Forgets every track (ids start again from 1)."""
        self._tracks, self._next = [], 1

    def rescale(self, sx: float, sy: float) -> None:
        """Follows a change of frame size (a camera stream that adapts its resolution)."""
        factor = np.array([sx, sy, sx, sy])
        for track in self._tracks:
            track.box = track.box * factor
            track.velocity = track.velocity * np.array([sx, sy])

    def update(self, boxes: list[tuple[float, float, float, float]], t: float) -> list[int]:
        """Assigns a track id to each box of the frame at ``t`` seconds (boxes in the frame's order)."""
        self._tracks = [tr for tr in self._tracks if t - tr.t <= self.max_missed_s]
        dets = [np.asarray(b, dtype=np.float64) for b in boxes]
        ids = [0] * len(dets)
        self.started = []
        if self._tracks and dets:
            cost = np.full((len(self._tracks), len(dets)), 1e6)
            for i, track in enumerate(self._tracks):
                pred = track.predicted(t)
                side = math.sqrt(max(1.0, (pred[2] - pred[0]) * (pred[3] - pred[1])))
                centre = (pred[:2] + pred[2:]) / 2
                for j, det in enumerate(dets):
                    distance = float(np.linalg.norm((det[:2] + det[2:]) / 2 - centre)) / side
                    det_side = math.sqrt(max(1.0, (det[2] - det[0]) * (det[3] - det[1])))
                    if distance > self.max_distance or not 0.5 <= det_side / side <= 2.0:
                        continue
                    cost[i, j] = (1.0 - _iou(pred, det)) + distance
            for i, j in zip(*_assign(cost)):
                if cost[i, j] >= 1e6:
                    continue
                track, det = self._tracks[i], dets[j]
                dt = t - track.t
                if dt > 0:
                    observed = ((det[:2] + det[2:]) - (track.box[:2] + track.box[2:])) / 2 / dt
                    track.velocity = observed if track.hits == 1 else 0.5 * track.velocity + 0.5 * observed
                track.box, track.t, track.hits = det, t, track.hits + 1
                ids[j] = track.id
        for j, det in enumerate(dets):
            if ids[j] == 0:
                new_id = self._free_id() if self.reuse_ids else self._next
                self._tracks.append(_Track(new_id, det, t))
                ids[j] = new_id
                self.started.append(new_id)
                self._next = max(self._next, new_id + 1)
        return ids

    def _free_id(self) -> int:
        taken = {track.id for track in self._tracks}
        return next(n for n in range(1, len(taken) + 2) if n not in taken)


class EmotionSmoother:
    """Per-track exponential moving average of the probabilities, with a time constant.

    After a step change of the raw reading, the smoothed one has moved 63% of the way after
    ``tau_s`` seconds, whatever the frame rate. A track seen for the first time starts at its reading.
    """

    def __init__(self, tau_s: float = 0.5) -> None:
        self.tau_s = tau_s
        self._state: dict[int, tuple[float, np.ndarray]] = {}

    def reset(self) -> None:
        """Forgets every track."""
        self._state.clear()

    def forget(self, track: int) -> None:
        """Forgets one track (its id now names a new face)."""
        self._state.pop(track, None)

    def update(self, track: int, probs: np.ndarray, t: float) -> np.ndarray:
        """The smoothed probabilities of ``track`` after a reading ``probs`` at ``t`` seconds."""
        probs = np.asarray(probs, dtype=np.float64)
        previous = self._state.get(track)
        if previous is None or self.tau_s <= 0:
            smoothed = probs
        else:
            last_t, last = previous
            alpha = 1.0 - math.exp(-max(0.0, t - last_t) / self.tau_s)
            smoothed = last + alpha * (probs - last)
        self._state[track] = (t, smoothed)
        return smoothed

    def current(self, track: int) -> np.ndarray | None:
        """The last smoothed probabilities of ``track``, or None."""
        state = self._state.get(track)
        return None if state is None else state[1]
