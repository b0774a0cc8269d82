"""Drawing history entries: the person's messages and the assistant's answers with what they show.

Called for every entry on every rerun; draws only what the entry (plain dicts, see
``ui_app.parts.entries``) holds. Plain words come first; the technical figures of an explanation
(the deletion test's exact numbers, log-odds, the layer) sit in an expander under it.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from tools.labels import display_name
from ui_app.parts import charts
from ui_app.parts.video import render_attachment_video, render_video_parts

__all__ = ["AVATARS", "THUMB_WIDTH", "render_body", "render_entry"]

# Material icons ship with Streamlit; emoji would need a colour-emoji font on the viewer's machine.
AVATARS = {"user": ":material/person:", "assistant": ":material/sentiment_satisfied:"}
THUMB_WIDTH = 200
FACES_PER_ROW = 6


def render_entry(entry: dict[str, Any], index: int) -> None:
    """Draws one history entry in its chat bubble."""
    with st.chat_message(entry["role"], avatar=AVATARS[entry["role"]]):
        render_body(entry, index)


def render_body(entry: dict[str, Any], index: int) -> None:
    """Draws an entry's content (inside a chat bubble the caller opened)."""
    if entry["role"] == "user":
        _render_user(entry, index)
        return
    if entry.get("text"):
        st.markdown(entry["text"])
    for notice in entry.get("notices", []):
        st.info(notice, icon=":material/info:")
    for error in entry.get("errors", []):
        st.error(error, icon=":material/error:")
    render_video_parts(entry, index)
    for chart in entry.get("probabilities", []):
        st.caption(f"Probabilities — {chart['title']}")
        st.altair_chart(charts.probability_chart(chart["probs"]), width="stretch")
    for numbered in entry.get("numbered", []):
        st.image(numbered["png"], caption=numbered["caption"], width="stretch")
    for group in entry.get("groups", []):
        _render_group(group)
    for j, heat in enumerate(entry.get("heatmaps", [])):
        _render_heatmap(heat, f"{index}_{j}")
    for figures in entry.get("figures", []):
        with st.expander("The measures behind this answer", icon=":material/straighten:"):
            st.table({"measure": list(figures), "value": [str(v) for v in figures.values()]})
    for j, png in enumerate(entry.get("images", [])):
        st.image(png, width=2 * THUMB_WIDTH)
        st.download_button(
            "Download image",
            png,
            f"image_{index}_{j}.png",
            "image/png",
            icon=":material/download:",
            key=f"image_{index}_{j}",
            on_click="ignore",
        )
    if entry.get("steps"):
        st.caption("Steps: " + " → ".join(step.lower() for step in entry["steps"]))


def _render_user(entry: dict[str, Any], index: int) -> None:
    if entry.get("text"):
        st.markdown(entry["text"])
    photos = [a for a in entry.get("attachments", []) if a["kind"] == "photo"]
    if photos:
        columns = st.columns(min(len(photos), 4)) if len(photos) > 1 else [st.container()]
        for i, photo in enumerate(photos):
            with columns[i % len(columns)]:
                if photo.get("image"):
                    st.image(photo["image"], caption=photo["name"], width=THUMB_WIDTH)
                else:
                    st.caption(f":material/attach_file: {photo['name']}")
    for j, video in enumerate(a for a in entry.get("attachments", []) if a["kind"] == "video"):
        render_attachment_video(video, f"{index}_{j}")


def _render_group(group: dict[str, Any]) -> None:
    """A photo of several faces: the numbered photo at full width, each face with its reading, one chart."""
    if group.get("numbered"):
        st.image(
            group["numbered"],
            caption=f"{group['name']}: the faces, numbered left to right, then top to bottom",
            width="stretch",
        )
    faces = group["faces"]
    for start in range(0, len(faces), FACES_PER_ROW):
        row = faces[start : start + FACES_PER_ROW]
        for column, face in zip(st.columns(FACES_PER_ROW), row):
            caption = f"{face['number']} · {display_name(face['label'])} {face['confidence']:.0%}"
            if face.get("crop"):
                column.image(face["crop"], caption=caption, width="stretch")
            else:
                column.caption(caption)
    st.caption(f"Probabilities of every face — {group['name']}")
    st.altair_chart(charts.faces_chart(faces, group["labels"]), width="stretch")


def _render_heatmap(heat: dict[str, Any], key: str) -> None:
    who = heat["name"] + (f", face {heat['face_number']}" if heat.get("face_number") else "")
    face_col, heat_col, region_col = st.columns([1, 1, 1.3])
    if heat.get("face"):
        face_col.image(heat["face"], caption=f"Face — {who}", width="stretch")
    heat_col.image(heat["png"], caption=f"Heatmap for {heat['target']}", width="stretch")
    with region_col:
        st.markdown(
            f"**Where the model looked** for *{heat['target']}*"
            + (f" vs *{heat['versus']}*" if heat.get("versus") else "")
        )
        for name, share in heat["regions"][:5]:
            st.progress(min(1.0, max(0.0, share)), text=f"{name}: {share:.0%}")
        st.download_button(
            "Download heatmap",
            icon=":material/download:",
            data=heat["png"],
            file_name=f"heatmap_{heat['target'].replace(' ', '_')}_{heat['method']}.png",
            mime="image/png",
            key=f"download_{key}",
            on_click="ignore",
        )
    if heat.get("plain"):
        st.markdown(heat["plain"])
    with st.expander("Technical details"):
        for line in heat.get("technical", []):
            st.markdown(f"- {line}")
