"""Choosing the chat model: the offline planner by default, or any ``init_chat_model`` provider.

``resolve_chat_model`` turns a setting into a ``BaseChatModel``:

- None / ``offline``: None, meaning the offline planner answers.
- ``"ollama:llama3.1"``, ``"openai:gpt-4o-mini"``, any ``provider:model`` string that
  ``langchain.chat_models.init_chat_model`` knows (its partner package must be installed).
- an OpenAI-compatible server (llama.cpp, vLLM): ``FACE_AGENT_BASE_URL`` plus a bare model name,
  or the server URL itself as the model (``http://127.0.0.1:8080/v1``; the model name is then
  ``FACE_AGENT_SERVER_MODEL`` or ``default``).

Every remote model gets a timeout and no silent retries: when it fails, the turn falls back to the
offline planner at once instead of waiting.
"""

from __future__ import annotations

import os
from typing import Any

from langchain_core.language_models import BaseChatModel

from agent.settings import AgentSettings
from tools.errors import ModelUnavailableError

__all__ = ["resolve_chat_model", "describe_model"]

_TIMEOUT_KWARGS = {"openai", "azure_openai", "anthropic", "mistralai", "groq", "fireworks", "together", "xai"}


def _split(spec: str, settings: AgentSettings) -> tuple[str, str, str | None]:
    """(provider, model name, base url) of a model setting."""
    spec = spec.strip()
    if spec.startswith(("http://", "https://")):
        return "openai", os.environ.get("FACE_AGENT_SERVER_MODEL", "default"), spec
    provider, sep, name = spec.partition(":")
    if not sep:
        if settings.base_url:  # a bare name next to a server address: an OpenAI-compatible server
            return "openai", spec, settings.base_url
        raise ModelUnavailableError(
            f"Chat model {spec!r} names no provider: write it as provider:model (e.g. 'ollama:llama3.1', "
            "'openai:gpt-4o-mini'), or set FACE_AGENT_BASE_URL for an OpenAI-compatible server."
        )
    return provider.strip().lower(), name.strip(), settings.base_url


def _kwargs(provider: str, settings: AgentSettings, base_url: str | None) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    if provider == "ollama":
        kwargs["client_kwargs"] = {"timeout": settings.timeout_s}
        if base_url:
            kwargs["base_url"] = base_url
        return kwargs
    if provider in _TIMEOUT_KWARGS:
        kwargs.update(timeout=settings.timeout_s, max_retries=0)
    if base_url:
        kwargs["base_url"] = base_url
    if settings.api_key:
        kwargs["api_key"] = settings.api_key
    elif provider == "openai" and base_url:
        kwargs["api_key"] = "not-needed"  # local servers ignore the key, but the client insists on one
    return kwargs


def resolve_chat_model(
    model: str | BaseChatModel | None, settings: AgentSettings | None = None
) -> BaseChatModel | None:
    """The chat model a session should use, or None for the offline planner.

    Args:
        model: a ``BaseChatModel``, a model string (see the module docstring), or None to read
            ``settings.chat_model``.
        settings: connection settings; ``AgentSettings.from_env()`` when None.

    Raises:
        ModelUnavailableError: the provider is unknown, its package is not installed, or the model
            could not be set up (e.g. a missing API key); the message says what to do.
    """
    settings = settings or AgentSettings.from_env()
    if isinstance(model, BaseChatModel):
        return model
    spec = model if model is not None else settings.chat_model
    if spec is None or settings.with_(chat_model=spec).offline:
        return None
    provider, name, base_url = _split(spec, settings)
    from langchain.chat_models import init_chat_model

    try:
        return init_chat_model(name, model_provider=provider, **_kwargs(provider, settings, base_url))
    except ImportError as exc:
        raise ModelUnavailableError(
            f"Chat model {spec!r} needs a package that is not installed ({exc}); install langchain-{provider}."
        ) from exc
    except Exception as exc:
        raise ModelUnavailableError(f"Chat model {spec!r} could not be set up: {exc}") from exc


def describe_model(model: BaseChatModel | None) -> str:
    """A short name of a chat model for notices ("ollama:llama3.1", "offline planner")."""
    if model is None:
        return "offline planner"
    params = model._get_ls_params() if hasattr(model, "_get_ls_params") else {}
    provider = params.get("ls_provider") or type(model).__name__
    name = params.get("ls_model_name") or getattr(model, "model_name", None) or getattr(model, "model", "")
    return f"{provider}:{name}" if name else str(provider)
