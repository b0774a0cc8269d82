"""How a classification result is said in one line, for a chat model and for other programs.

The LangChain tools (``tools.lc``) and the servers (``tools.serve``) word results the same way, so
a model reading either sees the same sentence for the same face.
"""

from __future__ import annotations

from typing import Any

from tools.labels import display_name

__all__ = ["percent", "prediction_text"]


def percent(p: float) -> str:
    """A probability as a percentage: whole percent, one decimal under 1%."""
    return f"{100 * p:.0f}%" if p >= 0.01 else f"{100 * p:.1f}%"


def prediction_text(pred: dict[str, Any]) -> str:
    """One face's reading from ``Prediction.to_dict()`` (plus an optional ``position`` word):
    ``face 2 (left): happy 97% (runner-up neutral 2%); compound reading ...``."""
    ranked = sorted(pred["probs"].items(), key=lambda kv: kv[1], reverse=True)
    where = f" ({pred['position']})" if pred.get("position") not in (None, "centre") else ""
    text = f"face {pred['face']}{where}: {display_name(pred['label'])} {percent(pred['confidence'])}"
    if len(ranked) > 1:
        text += f" (runner-up {display_name(ranked[1][0])} {percent(ranked[1][1])})"
    compound = pred.get("compound")
    if compound and compound.get("label"):
        kind = "derived from basic scores" if compound.get("derived") else "predicted"
        text += f"; compound reading {display_name(compound['label'])} ({kind})"
    return text
