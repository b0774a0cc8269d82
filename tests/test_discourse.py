"""The discourse state: focus, frames, waiting questions, faces by row and side, photos by content and
pronoun, videos by name and ordinal (agent.discourse), with the planning that reads it (no models)."""

from __future__ import annotations

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

from agent.discourse import Conversation, pick_face, pronoun_of, resolve_videos
from agent.planning import plan_turn
from agent.prompts import attachment_note, system_prompt, video_note, video_prompt
from agent.understanding import understand
from tools.locate import locate_faces

C, F = "classify_emotion", "find_faces"
# Five faces: one high on the left (the back row), four lower (the front), face 3 the middle one.
FIVE = [
    (230, 80, 290, 160),
    (330, 260, 390, 340),
    (450, 230, 500, 300),
    (550, 330, 610, 410),
    (700, 320, 770, 390),
]


def _system(images: dict[str, str], videos: dict[str, str] | None = None) -> SystemMessage:
    return SystemMessage(system_prompt(images) + video_prompt(videos or {}))


def _faces_turn(image_id: str, boxes: list, size=(1000, 500), say: str = "how many faces?") -> list:
    call = {"name": F, "args": {"image_id": image_id}, "id": f"f-{image_id}", "type": "tool_call"}
    artifact = {"image_id": image_id, **locate_faces(boxes, size).to_dict()}
    return [
        HumanMessage(say),
        AIMessage("", tool_calls=[call]),
        ToolMessage("...", tool_call_id=f"f-{image_id}", name=F, artifact=artifact),
    ]


def test_rows_and_sides_place_a_face() -> None:
    found = locate_faces(FIVE, (1000, 500))
    assert pick_face(found, "top left").number == 1
    assert pick_face(found, "top middle").number == 3  # "in the middle at the back"
    assert pick_face(found, "bottom right").number == 5
    assert pick_face(found, "left").number == 1
    assert understand("the one top left").face == "top left"
    assert understand("and the curly haired guy in the middle at the back?").face == "top middle"
    assert understand("number 2").face == 2 and understand("#4").face == 4 and understand("3").face == 3


def test_a_person_named_by_appearance_is_asked_about_then_the_number_answers() -> None:
    images = {"img1": "friends.jpg"}
    history = [_system(images), *_faces_turn("img1", FIVE, say=attachment_note("img1", "friends.jpg"))]
    history += [AIMessage("I can see 5 faces.")]
    messages = [*history, HumanMessage("whats the guy w the sunglasses feeling")]
    plan = plan_turn(messages)
    assert plan.calls == [(F, {"image_id": "img1"})]  # the numbered photo, not the whole table
    assert "which number" in plan.lead and "the guy with the sunglasses" in plan.lead
    assert plan.pending and plan.pending["image"] == "img1"
    # the answer message carries the waiting request; "number 2" carries it out for face 2
    messages += [
        AIMessage(
            "", tool_calls=[{"name": F, "args": {"image_id": "img1"}, "id": "f2", "type": "tool_call"}]
        ),
        ToolMessage(
            "...",
            tool_call_id="f2",
            name=F,
            artifact={"image_id": "img1", **locate_faces(FIVE, (1000, 500)).to_dict()},
        ),
        AIMessage("Which number is it?", additional_kwargs={"pending": plan.pending}),
        HumanMessage("number 2"),
    ]
    assert Conversation.read(messages, images).pending == plan.pending
    assert plan_turn(messages).calls == [(C, {"image_id": "img1", "face": 2})]
    # ... and "the one top left" would have meant face 1
    messages[-1] = HumanMessage("the one top left")
    assert plan_turn(messages).calls == [(C, {"image_id": "img1", "face": 1})]


def test_a_number_with_a_hedge_answers_the_waiting_question() -> None:
    assert understand("1 i think").face == 1 and understand("3 probably").face == 3
    assert understand("Participant 2 is looking down. Can you still get a reading off her?").face == 2


def test_thanks_after_an_answer_runs_nothing_again() -> None:
    images = {"img1": "friends.jpg"}
    messages = [_system(images), *_faces_turn("img1", FIVE, say=attachment_note("img1", "friends.jpg"))]
    messages += [AIMessage("5 faces."), HumanMessage("ok cool ty")]
    plan = plan_turn(messages)
    assert plan.calls == [] and plan.reply


def test_a_single_face_needs_no_question() -> None:
    images = {"img1": "me.jpg"}
    messages = [_system(images), *_faces_turn("img1", FIVE[:1], say=attachment_note("img1", "me.jpg"))]
    messages += [AIMessage("1 face."), HumanMessage("what is the guy with the hat feeling?")]
    plan = plan_turn(messages)
    assert plan.calls == [(C, {"image_id": "img1"})] and not plan.lead and not plan.pending


def test_photos_by_content() -> None:
    images = {"img1": "portrait.jpg", "img2": "party.jpg", "img3": "landscape.jpg"}
    messages = [_system(images)]
    messages += _faces_turn("img1", FIVE[:1]) + [AIMessage("1 face.")]
    messages += _faces_turn("img2", FIVE) + [AIMessage("5 faces.")]
    messages += _faces_turn("img3", []) + [AIMessage("No face.")]
    plan = plan_turn([*messages, HumanMessage("what about the group shot, how is everyone?")])
    assert {a["image_id"] for _, a in plan.calls} == {"img2"}
    plan = plan_turn([*messages, HumanMessage("and the one without a face?")])
    assert {a["image_id"] for _, a in plan.calls} == {"img3"}


def test_photos_attached_together_by_ordinal_count_and_emotion_named_file() -> None:
    images = {"img1": "happy.jpg", "img2": "angry.jpg", "img3": "surprised.jpg", "img4": "disgust.jpg"}
    notes = "\n".join(attachment_note(i, n) for i, n in images.items())
    messages = [
        _system(images),
        HumanMessage(notes + "\nFour portraits. Give me the emotion for each one please."),
    ]
    assert {a["image_id"] for _, a in plan_turn(messages).calls} == set(images)
    messages[-1] = HumanMessage(notes + "\nwhat is she feeling?")  # one face asked about: the latest
    assert [a["image_id"] for _, a in plan_turn(messages).calls] == ["img4"]
    messages = [_system(images), HumanMessage(notes)]
    for say, wanted in (
        ("compare the first and the third", {"img1", "img3"}),
        ("which of the four has raised eyebrows?", set(images)),
        ("give me a full description of the face in the disgust photo", {"img4"}),
        ("compare the anger and disgust photos", {"img2", "img4"}),
    ):
        plan = plan_turn([*messages, AIMessage("..."), HumanMessage(say)])
        assert {a["image_id"] for _, a in plan.calls} == wanted, say


def test_a_pronoun_goes_back_to_the_photo_talked_about_that_way() -> None:
    images = {"img1": "grace.jpg", "img2": "man.jpg"}
    messages = [_system(images)]
    for image_id, say in (
        ("img1", "what is she feeling?"),
        ("img2", "and this man, what is he feeling?"),
        ("img1", "no, only the first photo: is she happy?"),
    ):
        call = {"name": C, "args": {"image_id": image_id}, "id": f"c{len(messages)}", "type": "tool_call"}
        messages += [
            HumanMessage(say),
            AIMessage("", tool_calls=[call]),
            ToolMessage("...", tool_call_id=call["id"], name=C, artifact={}),
            AIMessage("..."),
        ]
    conv = Conversation.read(messages, images)
    assert conv.pronouns == {"img1": "she", "img2": "he"} and conv.focus == ["img1"]
    assert pronoun_of("is his head tilted?") == "he" and pronoun_of("is she or he happier?") is None
    plan = plan_turn([*messages, HumanMessage("his head is tilt?")])
    assert [a["image_id"] for _, a in plan.calls] == ["img2"]


def test_videos_by_name_and_ordinal_and_frames_are_not_photos() -> None:
    videos = {"vid1": "clip.mov", "vid2": "clip2.mov", "vid3": "sky.mp4"}
    messages = [_system({}, videos), HumanMessage("\n".join(video_note(i, n) for i, n in videos.items()))]
    conv = Conversation.read(messages, {})
    assert resolve_videos(understand("when does he smile in the 2nd video", names=videos).text, conv) == [
        "vid2"
    ]
    assert resolve_videos(understand("compare the first two clips", names=videos).text, conv) == [
        "vid1",
        "vid2",
    ]
    assert resolve_videos(understand("and sky.mp4?", names=videos).text, conv) == ["vid3"]
    plan = plan_turn([*messages, HumanMessage("compare the first two clips, where does he look happier?")])
    assert [a["video_id"] for _, a in plan.calls] == ["vid1", "vid2"]
    plan = plan_turn([*messages, HumanMessage("what's happening near the end of clip.mov?")])
    assert plan.calls == [("video_frame", {"video_id": "vid1", "at": "end"})]
    # a frame taken from a video is a photo of the conversation, but not "the first photo"
    frame = {
        "name": "video_frame",
        "args": {"video_id": "vid1", "at": "0:05"},
        "id": "v1",
        "type": "tool_call",
    }
    messages += [
        AIMessage("", tool_calls=[frame]),
        ToolMessage(
            "...",
            tool_call_id="v1",
            name="video_frame",
            artifact={"video_id": "vid1", "t": 5.0, "image_id": "img1", "name": "clip.mov at 0:05"},
        ),
        AIMessage("..."),
    ]
    conv = Conversation.read(messages, {"img1": "clip.mov at 0:05"})
    assert conv.frames == {"img1": ("vid1", 5.0)} and conv.uploads == [] and conv.focus == ["img1"]
    plan = plan_turn([*messages, HumanMessage("which of the three videos has the happiest moment?")])
    assert [a["video_id"] for _, a in plan.calls] == ["vid1", "vid2", "vid3"]
    # a video sent while a frame is the focus is what the message is about
    new = {**videos, "vid4": "take2.mp4"}
    messages[0] = _system({"img1": "clip.mov at 0:05"}, new)
    plan = plan_turn([*messages, HumanMessage(video_note("vid4", "take2.mp4") + "\ncan you read this one?")])
    assert plan.calls == [("analyze_video", {"video_id": "vid4", "focus": "summary"})]


def test_a_declined_monitoring_request_binds_that_video_only() -> None:
    videos = {"vid1": "candidate.mp4"}
    first = [
        _system({}, videos),
        HumanMessage(
            video_note("vid1", "candidate.mp4")
            + "\nI'm screening applicants: does he come across as confident enough for the job?"
        ),
    ]
    plan = plan_turn(first)
    assert plan.declined == "surveillance" and plan.declined_media == ["vid1"] and "AI Act" in plan.reply
    messages = [
        *first,
        AIMessage(plan.reply, additional_kwargs={"declined": "surveillance", "media": ["vid1"]}),
    ]
    again = plan_turn([*messages, HumanMessage("just list his emotions frame by frame then")])
    assert again.calls == [] and again.declined == "surveillance"
    product = plan_turn([*messages, HumanMessage("ok. what video formats can I upload?")])
    assert product.calls == [] and "MP4" in product.reply
