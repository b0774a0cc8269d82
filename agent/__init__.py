"""The facial emotion agent: a LangChain tool-calling agent over the face tools.

    from agent import ChatSession
    s = ChatSession()                         # offline planner unless FACE_AGENT_CHAT_MODEL is set
    s.add_image("face.jpg")
    reply = s.send("What is she feeling and why?")
    reply.text, reply.tool_calls, reply.images

``build_agent`` gives the bare LangGraph agent for other callers; ``OfflinePlanner`` is the offline
chat model; ``AgentSettings`` holds the model and limit settings.
"""

from __future__ import annotations

from agent.builder import build_agent
from agent.planner import OfflinePlanner
from agent.results import Reply, ToolResult
from agent.session import ChatSession
from agent.settings import AgentSettings

__all__ = ["AgentSettings", "ChatSession", "OfflinePlanner", "Reply", "ToolResult", "build_agent"]
