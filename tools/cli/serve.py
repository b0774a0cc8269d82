"""``python -m tools serve mcp|rest``: the face tools for other programs (MCP server, REST API)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from tools.errors import InvalidRequestError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds the ``serve`` command with its ``mcp`` and ``rest`` subcommands."""
    parser = subparsers.add_parser("serve", help="serve the face tools over MCP or a REST API")
    kinds = parser.add_subparsers(dest="kind", metavar="KIND", required=True)

    mcp = kinds.add_parser("mcp", help="an MCP server (stdio by default; --http PORT for streamable HTTP)")
    mcp.add_argument("--http", type=int, metavar="PORT", default=None, help="serve streamable HTTP on PORT")
    mcp.add_argument("--host", default="127.0.0.1", help="HTTP address to listen on (default 127.0.0.1)")
    mcp.add_argument(
        "--allow-dir",
        type=Path,
        default=None,
        help="accept image file paths inside this folder (default: base64 and data URLs only)",
    )
    _common(mcp)
    mcp.set_defaults(handler=run_mcp)

    rest = kinds.add_parser("rest", help="a REST API (FastAPI; OpenAPI docs at /docs)")
    rest.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    rest.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    rest.add_argument("--max-waiting", type=int, default=32, help="requests queued before 503 (default 32)")
    rest.add_argument(
        "--max-upload-mb", type=float, default=None, help="largest photo accepted, in MB (default 25)"
    )
    rest.add_argument(
        "--max-video-mb", type=float, default=None, help="largest video accepted, in MB (default 200)"
    )
    rest.add_argument(
        "--max-video-seconds", type=float, default=None, help="longest video accepted (default 600)"
    )
    rest.add_argument(
        "--no-access-log", action="store_true", help="no line per request on stderr (default: one each)"
    )
    rest.add_argument(
        "--cors-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="allow this browser origin (repeatable); no CORS headers unless given",
    )
    rest.add_argument(
        "--api-key-env",
        default="FACE_AGENT_SERVE_API_KEY",
        metavar="VAR",
        help="environment variable holding the API key required in X-API-Key (default "
        "FACE_AGENT_SERVE_API_KEY; no key needed when it is unset)",
    )
    _common(rest)
    rest.set_defaults(handler=run_rest)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model", default=None, help="a checkpoint folder (default: the offline mini-Xception)"
    )
    parser.add_argument(
        "--workers", type=int, default=None, help="threads doing the work (default: the CPU count, at most 4)"
    )


def _service(args: argparse.Namespace):
    from tools.device import serving_threads
    from tools.serve.service import FaceService

    serving_threads()  # one torch thread per request; parallelism comes from the workers
    return FaceService(model=args.model)


def _workers(args: argparse.Namespace) -> int:
    return args.workers or min(4, os.cpu_count() or 2)


def run_mcp(args: argparse.Namespace) -> int:
    """Runs the MCP server until its client (stdio) or a signal (HTTP) stops it."""
    from tools.serve.mcp_server import build_mcp_server

    if args.allow_dir is not None and not args.allow_dir.expanduser().is_dir():
        raise InvalidRequestError(f"--allow-dir {args.allow_dir} is not a folder.")
    service = _service(args).load()
    server = build_mcp_server(
        service, allow_dir=args.allow_dir, host=args.host, port=args.http or 8000, workers=_workers(args)
    )
    if args.http is None:
        server.run("stdio")
    else:
        import uvicorn

        from tools.serve.mcp_server import http_app

        print(f"MCP server on http://{args.host}:{args.http}/mcp", file=sys.stderr, flush=True)
        # As FastMCP.run("streamable-http") does, with requests too large to read answered as tool errors.
        uvicorn.run(http_app(server), host=args.host, port=args.http, log_level="warning")
    return 0


def run_rest(args: argparse.Namespace) -> int:
    """Runs the REST API with uvicorn until interrupted; one access-log line per request on stderr."""
    import logging

    import uvicorn

    from tools.images import MAX_BYTES
    from tools.serve.observability import ACCESS_LOGGER
    from tools.serve.rest import DEFAULT_MAX_VIDEO_BYTES, DEFAULT_MAX_VIDEO_SECONDS, RestSettings, create_app

    if args.max_video_seconds is not None and not args.max_video_seconds > 0:
        raise InvalidRequestError(
            f"--max-video-seconds must be a positive number; got {args.max_video_seconds}."
        )
    max_bytes = int(args.max_upload_mb * 2**20) if args.max_upload_mb else MAX_BYTES
    max_video = int(args.max_video_mb * 2**20) if args.max_video_mb else DEFAULT_MAX_VIDEO_BYTES
    settings = RestSettings(
        service=_service(args),
        workers=_workers(args),
        max_waiting=args.max_waiting,
        max_upload_bytes=max_bytes,
        max_video_bytes=max_video,
        max_video_seconds=args.max_video_seconds or DEFAULT_MAX_VIDEO_SECONDS,
        api_key=os.environ.get(args.api_key_env) or None,
        cors_origins=tuple(args.cors_origin),
    )
    # A client's implausible X-Request-ID is replaced by a new id: not worth a warning line each time.
    logging.getLogger("asgi_correlation_id").setLevel(logging.ERROR)
    access = logging.getLogger(ACCESS_LOGGER)
    if not args.no_access_log:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        access.addHandler(handler)
        access.setLevel(logging.INFO)
        access.propagate = False
    # uvicorn's own access log is off: ours has the request id and the duration.
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="warning", access_log=False)
    return 0
