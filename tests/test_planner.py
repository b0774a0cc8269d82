"""The offline planner: request understanding, reference resolution and answer writing (no models)."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

from agent.compose import NEED_PHOTO, REFUSAL, compose_answer
from agent.planner import Conversation, OfflinePlanner, plan_turn
from agent.prompts import attachment_note, parse_image_list, system_prompt
from agent.results import ToolResult
from agent.understanding import understand
from agent.understanding.rules import clauses, extract_method

C, E, A, D = "classify_emotion", "explain_prediction", "answer_question", "describe_face"

# (request, expected tool sequence) on a conversation with one photo and no history.
PARAPHRASES: list[tuple[str, list[str]]] = [
    ("What emotion is this?", [C]),
    ("What is she feeling?", [C]),
    ("How does he look?", [C]),
    ("Is she happy?", [C]),
    ("Is this person sad or angry?", [C]),
    ("What's her mood?", [C]),
    ("Can you read her expression?", [C]),
    ("Analyze this face", [C]),
    ("What do you make of this photo?", [C]),
    ("How confident are you about the emotion?", [C]),
    ("what's the runner-up emotion?", [C]),
    ("is she happily surprised?", [C]),
    ("guess the emotion", [C]),
    ("Tell me about this face", [C, D]),
    ("why did you predict that?", [E]),
    ("Explain your prediction", [E]),
    ("What made you say that?", [E]),
    ("Which parts of the face mattered most?", [E]),
    ("Where did the model look?", [E]),
    ("Show me the heatmap", [E]),
    ("Heatmap for sadness please", [E]),
    ("Show the Grad-CAM++ map", [E]),
    ("visualise the evidence with score-cam", [E]),
    ("why happy rather than surprise?", [E]),
    ("How did you decide?", [E]),
    ("is the mouth open?", [A]),
    ("Are her eyes closed?", [A]),
    ("Is he frowning?", [A]),
    ("Which way is she looking?", [A]),
    ("Is she smiling?", [A]),
    ("Are the eyebrows raised?", [A]),
    ("Is her head tilted?", [A]),
    ("Describe the eyes", [A]),
    ("Describe the face", [D]),
    ("What does her face look like?", [D]),
    ("Describe her expression", [C, D]),
    ("What is she feeling and why?", [C, E]),
    ("what is she feeling, why, and is the mouth open?", [C, E, A]),
    ("How does she feel? Also, are her eyes open?", [C, A]),
    ("explain the emotion and describe the face", [E, D]),
    ("is the mouth open and are the eyes closed?", [A, A]),
    ("how sure is the model?", [C]),
    ("What is this person expressing?", [C]),
    ("whats she feelin", [C]),
    ("where is she looking?", [A]),
    ("is she showing any teeth?", [A]),
    ("why is she smiling?", [E]),
    ("what's her emotional state, and which features drove it", [C, E]),
    ("What can you do?", []),
    ("help", []),
    ("hi", []),
    ("thanks!", []),
    ("bye", []),
    ("read the file /etc/passwd", []),
    ("run this python code: print(1)", []),
    ("search the web for her name", []),
    ("who is this?", []),
    ("tell me a joke", []),
    ("please open image.png from my desktop", []),
]


def _messages(text: str, images: dict[str, str] | None = None, history: list | None = None) -> list:
    images = {"img1": "astronaut.png"} if images is None else images
    return [SystemMessage(system_prompt(images)), *(history or []), HumanMessage(text)]


def _pred(
    face: int, label: str, box: tuple[int, int, int, int], probs: dict[str, float] | None = None
) -> dict:
    probs = probs or {label: 0.9, "neutral": 0.06, "sad": 0.04}
    return {
        "face": face,
        "label": label,
        "confidence": probs[label],
        "probs": probs,
        "box": list(box),
        "model": "test",
        "compound": {
            "label": None,
            "components": [label],
            "derived": True,
            "in_label_set": False,
            "score": 0.0,
        },
    }


def _classify_turn(image_id: str, preds: list[dict], text: str = "What emotion is this?") -> list:
    call = {"name": C, "args": {"image_id": image_id}, "id": f"c-{image_id}", "type": "tool_call"}
    artifact = {"image_id": image_id, "predictions": preds, "labels": ["happy", "neutral", "sad"]}
    return [
        HumanMessage(text),
        AIMessage("", tool_calls=[call]),
        ToolMessage("...", tool_call_id=f"c-{image_id}", name=C, artifact=artifact),
        AIMessage("It reads happy."),
    ]


@pytest.mark.parametrize(("text", "expected"), PARAPHRASES, ids=[t for t, _ in PARAPHRASES])
def test_paraphrase_table(text: str, expected: list[str]) -> None:
    assert plan_turn(_messages(text)).tools == expected


def test_table_is_large_and_varied() -> None:
    assert len(PARAPHRASES) >= 40
    assert len({t.lower() for t, _ in PARAPHRASES}) == len(PARAPHRASES)
    assert sum(1 for _, tools in PARAPHRASES if len(tools) > 1) >= 5


@pytest.mark.parametrize(
    ("text", "target", "versus", "method"),
    [
        ("Heatmap for sadness please", "sad", None, None),
        ("show me the heatmap for surprise instead", "surprise", None, None),
        ("why happy rather than surprise?", "happy", "surprise", None),
        ("why not sad?", None, "sad", None),
        ("explain it using score-cam", None, None, "scorecam"),
        ("Grad-CAM++ for anger", "angry", None, "gradcam++"),
        ("show the eigen cam", None, None, "eigencam"),
        ("heatmap of the fearful reading with hires-cam", "fear", None, "hirescam"),
    ],
)
def test_explain_details(text: str, target: str | None, versus: str | None, method: str | None) -> None:
    plan = plan_turn(_messages(text))
    assert plan.tools == [E]
    args = plan.calls[0][1]
    assert args.get("target") == target
    assert args.get("versus") == versus
    assert args.get("method") == method
    assert args["image_id"] == "img1" and args.get("face") is None  # no face named: the most prominent


def test_target_resolves_into_the_models_labels() -> None:
    plan = plan_turn(_messages("heatmap for happiness"), labels=["angry", "happy", "neutral"])
    assert plan.calls[0][1]["target"] == "happy"
    # A label the model does not have is passed through; the tool answers with the labels it knows.
    plan = plan_turn(_messages("heatmap for happily surprised"), labels=["angry", "happy", "neutral"])
    assert plan.calls[0][1]["target"] == "happily surprised"


def test_question_clauses_are_split() -> None:
    assert clauses("what is she feeling, why, and is the mouth open?") == [
        "what is she feeling",
        "why",
        "is the mouth open",
    ]
    plan = plan_turn(_messages("What is she feeling and is the mouth open?"))
    assert plan.calls[1][1]["question"] == "is the mouth open?"


def test_method_names() -> None:
    assert extract_method("with Grad-CAM++") == "gradcam++"
    assert extract_method("using gradcam plus plus") == "gradcam++"
    assert extract_method("score cam") == "scorecam"
    assert extract_method("XGrad-CAM") == "xgradcam"
    assert extract_method("plain words") is None


def test_small_talk_and_refusals_answer_without_tools() -> None:
    assert "read the emotion" in plan_turn(_messages("what can you do?")).reply
    assert plan_turn(_messages("read ~/secrets.txt")).reply == REFUSAL
    assert plan_turn(_messages("hello")).reply.startswith("Hello")
    assert "welcome" in plan_turn(_messages("thank you")).reply


def test_no_photo_asks_for_one() -> None:
    plan = plan_turn(_messages("What is she feeling?", images={}))
    assert plan.calls == [] and plan.reply == NEED_PHOTO
    # Help still works without a photo.
    assert "Upload a photo" in plan_turn(_messages("help", images={})).reply


def test_photo_without_words_is_classified() -> None:
    msg = attachment_note("img1", "a.png")
    assert plan_turn(_messages(msg)).tools == [C]


def test_follow_up_second_face_repeats_the_last_request() -> None:
    # the most prominent face (happy, on the right) is face 2 in reading order; the sad one on the left is 1
    preds = [_pred(2, "happy", (300, 10, 400, 110)), _pred(1, "sad", (10, 10, 90, 90))]
    history = _classify_turn("img1", preds)
    plan = plan_turn(_messages("what about the second face?", history=history))
    assert plan.calls == [(C, {"image_id": "img1", "face": 2})]
    plan = plan_turn(_messages("and the person on the left?", history=history))
    assert plan.calls == [(C, {"image_id": "img1", "face": 1})]
    plan = plan_turn(_messages("why?", history=[*history, *_classify_turn("img1", preds, "face 2")[:0]]))
    assert plan.calls[0][0] == E


def test_a_face_that_is_not_there_is_answered_directly() -> None:
    history = _classify_turn("img1", [_pred(1, "happy", (0, 0, 50, 50))])
    plan = plan_turn(_messages("what about face 3?", history=history))
    assert plan.calls == [] and "only 1 face" in plan.reply


def test_instead_and_method_follow_ups_carry_the_explanation() -> None:
    call = {
        "name": E,
        "args": {"image_id": "img1", "face": 1, "target": "surprise"},
        "id": "e1",
        "type": "tool_call",
    }
    history = [
        HumanMessage("heatmap for surprise"),
        AIMessage("", tool_calls=[call]),
        ToolMessage("...", tool_call_id="e1", name=E, artifact={"image_id": "img1", "target": "surprise"}),
        AIMessage("Here it is."),
    ]
    plan = plan_turn(_messages("now with score-cam", history=history))
    assert plan.calls == [(E, {"image_id": "img1", "face": 1, "target": "surprise", "method": "scorecam"})]
    plan = plan_turn(_messages("what about sadness?", history=history))
    assert plan.calls == [(E, {"image_id": "img1", "face": 1, "target": "sad"})]
    plan = plan_turn(_messages("why did you predict that?", history=history))
    assert plan.calls == [(E, {"image_id": "img1", "face": 1})]


def test_several_photos() -> None:
    images = {"img1": "a.png", "img2": "b.png"}
    plan = plan_turn(_messages("compare the two photos", images=images))
    assert plan.calls == [(C, {"image_id": "img1"}), (C, {"image_id": "img2"})]
    plan = plan_turn(_messages("which one is happier?", images=images))
    assert plan.tools == [C, C] and plan.request.comparative == "happy"
    plan = plan_turn(_messages("what is she feeling in the first photo?", images=images))
    assert plan.calls == [(C, {"image_id": "img1"})]
    # The newest photo is the default; "the other one" switches.
    history = _classify_turn("img2", [_pred(1, "happy", (0, 0, 50, 50))])
    plan = plan_turn(_messages("and the other one?", images=images, history=history))
    assert plan.calls == [(C, {"image_id": "img1"})]
    plan = plan_turn(_messages("is the mouth open in photo 2?", images=images))
    assert plan.calls[0][1]["image_id"] == "img2"
    assert "no photo 5" in plan_turn(_messages("classify photo 5", images=images)).reply


def test_an_attachment_moves_the_focus() -> None:
    images = {"img1": "a.png", "img2": "b.png"}
    history = _classify_turn("img1", [_pred(1, "happy", (0, 0, 50, 50))])
    text = attachment_note("img2", "b.png") + "\nand this one?"
    plan = plan_turn(_messages(text, images=images, history=history))
    assert plan.calls == [(C, {"image_id": "img2"})]


def test_missing_tools_are_explained() -> None:
    plan = plan_turn(_messages("is the mouth open?"), tools=[C, E])
    assert plan.calls == [] and "not available" in plan.reply
    plan = plan_turn(_messages("what is she feeling and is the mouth open?"), tools=[C, E])
    assert plan.tools == [C] and any("not available" in n for n in plan.notes)


def test_conversation_reads_focus_and_faces() -> None:
    preds = [_pred(1, "happy", (0, 0, 50, 50)), _pred(2, "sad", (60, 0, 90, 30))]
    conv = Conversation.read(_classify_turn("img1", preds), {"img1": "a"})
    assert conv.focus == ["img1"] and len(conv.faces["img1"]) == 2 and conv.tools_run == {C}


def test_prompt_round_trip() -> None:
    prompt = system_prompt({"img1": 'my "face".jpg', "img2": "b.png"})
    assert parse_image_list(prompt) == {"img1": "my 'face'.jpg", "img2": "b.png"}
    assert "none yet" in system_prompt({})


def test_compose_names_everything_the_tools_found() -> None:
    probs = {"happy": 0.62, "surprise": 0.3, "neutral": 0.08}
    pred = _pred(1, "happy", (0, 0, 10, 10), probs)
    pred["compound"] = {
        "label": "happily_surprised",
        "components": ["happy", "surprise"],
        "derived": True,
        "in_label_set": True,
        "score": 0.33,
    }
    results = [
        ToolResult(
            C, {"image_id": "img1"}, "...", {"image_id": "img1", "predictions": [pred], "labels": list(probs)}
        ),
        ToolResult(
            E,
            {"image_id": "img1"},
            "...",
            {
                "image_id": "img1",
                "face": 0,
                "target": "happy",
                "versus": None,
                "method": "gradcam",
                "top_regions": [["mouth", 0.5], ["eyes", 0.3], ["nose", 0.1]],
                "target_probability": 0.62,
                "faithfulness_text": "faithful (score +0.40): blurring the hottest 20% lowers p(happy) a lot",
                "overlay_png": b"\x89PNG",
            },
        ),
        ToolResult(
            A,
            {"image_id": "img1", "question": "Is the mouth open?"},
            "...",
            {
                "question": "Is the mouth open?",
                "text": "Yes, it is open.",
                "backend": "geometry",
                "in_scope": True,
            },
        ),
        ToolResult(
            D, {"image_id": "img1"}, "Error: no face", {"image_id": "img1", "error": "No face found."}
        ),
    ]
    text = compose_answer(results, understand("what is she feeling, why, and is the mouth open?"))
    for part in ("**happy**", "62%", "runner-up: surprise (30%)", "happily surprised", "derived",
                 "Grad-CAM", "on the mouth (50%)", "on the eyes (30%)", "heatmap is faithful",
                 "Yes, it is open.", "found no face"):  # fmt: skip
        assert part in text, part
    # plain words in the chat; the test's figures stay in the artifact
    assert "score +0.40" not in text and "p(happy)" not in text and "img1" not in text


def test_planner_model_plans_then_answers() -> None:
    model = OfflinePlanner().bind_tools([])
    first = OfflinePlanner().invoke(_messages("what is she feeling?"))
    assert first.tool_calls[0]["name"] == C and first.tool_calls[0]["args"] == {"image_id": "img1"}
    # Bound to tools without the question tool, it does not call it.
    assert model.invoke(_messages("is the mouth open?")).tool_calls == []


# --- issue 13: faces by position, photos by name, knowledge, answers shaped like the question ------------


def _faces_artifact(image_id: str, boxes: list[tuple[int, int, int, int]], size=(400, 200)) -> dict:
    from tools.locate import locate_faces

    return {"image_id": image_id, **locate_faces(boxes, size).to_dict()}


def test_a_face_named_by_position_is_looked_up_first() -> None:
    messages = _messages("what is the person on the right feeling?")
    first = plan_turn(messages)
    assert first.calls == [("find_faces", {"image_id": "img1"})] and first.lookup
    call = {"name": "find_faces", "args": {"image_id": "img1"}, "id": "f1", "type": "tool_call"}
    artifact = _faces_artifact("img1", [(10, 10, 110, 110), (250, 20, 320, 90)])
    messages += [AIMessage("", tool_calls=[call]), ToolMessage("...", tool_call_id="f1", artifact=artifact)]
    second = plan_turn(messages)
    assert second.calls == [(C, {"image_id": "img1", "face": 2})] and not second.lookup
    assert second.chosen == {("img1", 2): "the face on the right"}
    call = {"name": C, "args": {"image_id": "img1", "face": 2}, "id": "c1", "type": "tool_call"}
    messages += [AIMessage("", tool_calls=[call]), ToolMessage("...", tool_call_id="c1", artifact={})]
    third = plan_turn(messages)
    assert third.calls == [] and third.lookups == [("find_faces", {"image_id": "img1"})]


def test_a_face_named_by_emotion_uses_known_readings() -> None:
    preds = [_pred(1, "neutral", (0, 0, 50, 50)), _pred(2, "happy", (100, 0, 150, 50))]
    plan = plan_turn(_messages("explain the smiling one", history=_classify_turn("img1", preds)))
    assert plan.calls == [(E, {"image_id": "img1", "face": 2})]


def test_photos_by_file_name_ordinal_and_this_one() -> None:
    from agent.understanding import with_ids as _with_image_ids

    names = {"img1": "grace_hopper.jpg", "img2": "astronaut.jpg", "img3": "happy.png"}
    assert _with_image_ids("and for astronaut.jpg?", names) == "and for img2?"
    assert _with_image_ids("what about Grace_Hopper", names) == "what about img1"
    assert _with_image_ids("is she happy?", names) == "is she happy?"  # an emotion is not a file name
    assert _with_image_ids("open happy.png", names) == "open img3"
    images = {"img1": "grace_hopper.jpg", "img2": "astronaut.jpg"}
    plan = plan_turn(_messages("compare this one with the first photo", images=images))
    assert plan.calls == [(C, {"image_id": "img1"}), (C, {"image_id": "img2"})]
    plan = plan_turn(_messages("is the mouth open in astronaut.jpg?", images=images))
    assert plan.tools == [A] and plan.calls[0][1]["image_id"] == "img2"  # a photo, not a file to open


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("what does happily surprised mean?", "emotion:happily surprised"),
        ("what is grad-cam?", "gradcam"),
        ("how does the heatmap work?", "gradcam"),
        ("what does the faithfulness number mean?", "faithfulness"),
        ("which model is loaded?", "model"),
        ("what was it trained on?", "model"),
        ("what are compound emotions?", "compound"),
        ("what labels can the model predict?", "labels"),
        ("what does her expression mean?", None),
        ("What emotion is this?", None),
        ("what emotions do you see?", None),
        ("show me the heatmap", None),
    ],
)
def test_product_questions_need_no_tools(text: str, topic: str | None) -> None:
    from agent.understanding.topics import topic_of

    assert topic_of(text) == topic
    if topic:
        plan = plan_turn(_messages(text))
        assert plan.calls == [] and plan.reply and "not sure" not in plan.reply


def _classify_result(image_id: str, preds: list[dict]) -> ToolResult:
    artifact = {
        "image_id": image_id,
        "predictions": preds,
        "face_count": len(preds),
        "labels": ["happy", "neutral", "sad"],
    }
    return ToolResult(C, {"image_id": image_id}, "...", artifact)


def test_every_score_when_asked_and_the_largest_face_first() -> None:
    happy = _pred(1, "happy", (0, 0, 10, 10), {"happy": 0.9, "neutral": 0.06, "sad": 0.04})
    text = compose_answer(
        [_classify_result("img1", [happy])], understand("give me the full breakdown of all emotions")
    )
    assert "Every emotion's score: happy 90%, neutral 6%, sad 4%." in text
    assert "Every emotion" not in compose_answer(
        [_classify_result("img1", [happy])], understand("what is she feeling?")
    )
    faces = {
        "image_id": "img1",
        "count": 2,
        "faces": [
            {"face": 1, "box": [0, 0, 10, 10], "position": "left", "words": ["left"]},
            {"face": 2, "box": [50, 0, 90, 40], "position": "right", "words": ["right", "largest"]},
        ],
    }
    found = ToolResult("find_faces", {"image_id": "img1"}, "...", faces)
    assert compose_answer([found], understand("which face is the largest?")).startswith(
        "The largest face is **face 2**"
    )
    assert compose_answer([found], understand("which face is the smallest?")).startswith(
        "The smallest face is **face 1**"
    )


def test_answers_are_shaped_like_the_question() -> None:
    happy = _pred(1, "happy", (0, 0, 10, 10), {"happy": 0.9, "neutral": 0.06, "sad": 0.04})
    calm = _pred(1, "neutral", (0, 0, 10, 10), {"happy": 0.1, "neutral": 0.8, "sad": 0.1})
    one = [_classify_result("img1", [happy])]
    assert compose_answer(one, understand("Is she happy? Answer yes or no.")).startswith("Yes")
    assert compose_answer(one, understand("is she sad?")).startswith("No")
    assert compose_answer(one, understand("in one word, what is she feeling?")).split("\n")[0] == "**Happy**"
    two = [_classify_result("img1", [calm]), _classify_result("img2", [happy])]
    names = {"img1": "a.jpg", "img2": "b.jpg"}
    text = compose_answer(two, understand("which of the two looks happier?"), names)
    assert text.startswith("b.jpg looks happier: happy 90% vs 10% for a.jpg")
    group = [{**calm, "face": 1}, {**happy, "face": 2}]
    where = {("img1", 1): "on the left", ("img1", 2): "on the right"}
    text = compose_answer(
        [_classify_result("img1", group)], understand("what's everyone feeling?"), where=where
    )
    assert text.startswith("**2 faces**") and "| 2 | on the right | **happy** | 90% |" in text
    assert text.count("Compound reading") <= 1  # said once at most, and only when there is one
    text = compose_answer(
        [_classify_result("img1", group)], understand("who looks the happiest?"), where=where
    )
    assert text == "Face 2 (on the right) looks happier: happy 90% vs 10% for face 1 (on the left)."
