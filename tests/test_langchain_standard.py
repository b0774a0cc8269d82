"""langchain-tests standard unit suites for the offline planner chat model and the face tools.

Not applicable here, and why:
- ``ChatModelUnitTests.test_with_structured_output``: the planner plans face tools; it cannot fill an
  arbitrary schema, so ``has_structured_output`` is False and the test returns early.
- ``ChatModelUnitTests.test_serdes``: the planner is not LangChain-serializable (skipped by the suite).
- ``ChatModelUnitTests.test_init_from_env`` / ``ToolsUnitTests.test_init_from_env``: nothing is read
  from the environment at construction (skipped / no-op in the suite).
"""

from __future__ import annotations

from typing import Any

from langchain_core.tools import BaseTool
from langchain_tests.unit_tests import ChatModelUnitTests, ToolsUnitTests

from agent.planner import OfflinePlanner
from tools.lc import answer_question, classify_emotion, describe_face, explain_prediction, find_faces


class TestOfflinePlannerStandard(ChatModelUnitTests):
    @property
    def chat_model_class(self) -> type[OfflinePlanner]:
        return OfflinePlanner

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"model_name": "offline-planner"}

    @property
    def has_structured_output(self) -> bool:
        return False  # it plans face tools; it cannot fill an arbitrary schema


class TestClassifyEmotionTool(ToolsUnitTests):
    @property
    def tool_constructor(self) -> BaseTool:
        return classify_emotion

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"image_id": "img1", "face": 1}


class TestExplainPredictionTool(ToolsUnitTests):
    @property
    def tool_constructor(self) -> BaseTool:
        return explain_prediction

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"image_id": "img1", "face": 1, "target": "sad", "method": "gradcam++"}


class TestAnswerQuestionTool(ToolsUnitTests):
    @property
    def tool_constructor(self) -> BaseTool:
        return answer_question

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"image_id": "img1", "question": "Is the mouth open?", "face": 1}


class TestDescribeFaceTool(ToolsUnitTests):
    @property
    def tool_constructor(self) -> BaseTool:
        return describe_face

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"image_id": "img1"}


class TestFindFacesTool(ToolsUnitTests):
    @property
    def tool_constructor(self) -> BaseTool:
        return find_faces

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"image_id": "img1"}
