"""The face tools for other programs: an MCP server and a REST API over the same functions.

    python -m tools serve mcp                    # stdio, for Claude Desktop, Cursor, any MCP client
    python -m tools serve mcp --http 8765        # streamable HTTP on 127.0.0.1:8765/mcp
    python -m tools serve rest --port 8000       # FastAPI; OpenAPI docs at /docs

Both run in one process over the cached models and the per-image cache of ``tools``; this package
imports nothing outside ``tools`` (and its server libraries: ``mcp``, ``fastapi``, ``uvicorn``).
Heavy modules load on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "FaceService",
    "ToolOutput",
    "WorkQueue",
    "build_mcp_server",
    "MCP_TOOLS",
    "create_app",
    "RestSettings",
]

_LAZY = {
    "FaceService": "tools.serve.service",
    "ToolOutput": "tools.serve.service",
    "WorkQueue": "tools.serve.service",
    "build_mcp_server": "tools.serve.mcp_server",
    "MCP_TOOLS": "tools.serve.mcp_server",
    "create_app": "tools.serve.rest",
    "RestSettings": "tools.serve.rest",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tools.serve' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
