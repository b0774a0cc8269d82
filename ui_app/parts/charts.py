"""The app's charts (Altair), every one in the emotion colours of ``tools.palette``.

Each function takes plain history-entry data and returns a chart; the caller draws it.
"""

from __future__ import annotations

from typing import Any

from tools.labels import display_name
from tools.palette import chart_scale

__all__ = ["probability_chart", "faces_chart", "timeline_chart", "CHART_ROW"]

CHART_ROW = 26  # px per bar
# Streamlit fits the whole chart, axis and legend included, into its height: room for them.
AXIS, AXIS_AND_LEGEND = 36, 72


def _colour(labels: list[str], legend: str | None) -> Any:
    import altair as alt

    domain, colours = chart_scale(labels)
    columns = min(7, len(domain)) if legend == "bottom" else 1
    return alt.Color(
        "emotion:N",
        scale=alt.Scale(domain=domain, range=colours),
        legend=alt.Legend(orient=legend, title=None, columns=columns) if legend else None,
        sort=domain,
    )


def probability_chart(probs: dict[str, float]) -> Any:
    """One face: a bar per emotion, most likely on top, each in its emotion's colour."""
    import altair as alt
    import pandas as pd

    frame = pd.DataFrame(
        {"emotion": [display_name(k) for k in probs], "probability": [float(v) for v in probs.values()]}
    )
    order = frame.sort_values("probability", ascending=False)["emotion"].tolist()
    bars = (
        alt.Chart(frame)
        .mark_bar(cornerRadiusEnd=3)
        .encode(
            x=alt.X("probability:Q", scale=alt.Scale(domain=[0, 1.08]), axis=None),
            y=alt.Y("emotion:N", sort=order, title=None, axis=alt.Axis(labelOverlap=False, ticks=False)),
            color=_colour(list(probs), legend=None),
            tooltip=["emotion:N", alt.Tooltip("probability:Q", format=".1%")],
        )
    )
    labels = (
        bars.mark_text(align="left", dx=4)
        .encode(text=alt.Text("probability:Q", format=".0%"), color=alt.value("#555"))
        .transform_filter(alt.datum.probability >= 0.005)  # no row of "0%" under a confident reading
    )
    return (bars + labels).properties(height=CHART_ROW * len(frame))


def faces_chart(faces: list[dict[str, Any]], labels: list[str]) -> Any:
    """Every face of a photo in one chart: a bar per face, split into its emotions' probabilities.

    Args:
        faces: ``{"number", "probs"}`` per face.
        labels: the model's labels (the legend's order).
    """
    import altair as alt
    import pandas as pd

    rows = [
        {
            "face": f"Face {face['number']}",
            "number": int(face["number"]),
            "emotion": display_name(k),
            "probability": float(p),
            "rank": labels.index(k) if k in labels else len(labels),
        }
        for face in faces
        for k, p in face["probs"].items()
    ]
    frame = pd.DataFrame(rows)
    order = [f"Face {n}" for n in sorted({int(f["number"]) for f in faces})]
    return (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X(
                "probability:Q",
                stack="zero",
                scale=alt.Scale(domain=[0, 1]),
                axis=alt.Axis(format="%", title=None, tickCount=5),
            ),
            y=alt.Y("face:N", sort=order, title=None, axis=alt.Axis(ticks=False, labelOverlap=False)),
            color=_colour(labels, legend="right"),
            order=alt.Order("rank:Q"),
            tooltip=["face:N", "emotion:N", alt.Tooltip("probability:Q", format=".1%")],
        )
        .properties(height=max(CHART_ROW * len(order), 18 * len(labels)) + AXIS)
    )


def timeline_chart(timeline: list[dict[str, Any]], labels: list[str], track: int) -> Any:
    """One face of a video: every emotion's probability over time (the artifact's chart timeline)."""
    import altair as alt
    import pandas as pd

    rows = [
        {"time (s)": r["start"], "emotion": display_name(k), "probability": p}
        for r in timeline
        if r["track"] == track
        for k, p in r["probs"].items()
    ]
    return (
        alt.Chart(pd.DataFrame(rows))
        .mark_line(interpolate="monotone")
        .encode(
            x=alt.X("time (s):Q", axis=alt.Axis(tickCount=8)),
            y=alt.Y("probability:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%")),
            color=_colour(labels, legend="bottom"),
            tooltip=["time (s):Q", "emotion:N", alt.Tooltip("probability:Q", format=".0%")],
        )
        .properties(height=220 + AXIS_AND_LEGEND)
    )
