"""The Hugging Face settings cosmos-tui works with, read from the environment on every call.

``huggingface_hub`` reads ``HF_ENDPOINT``, ``HF_HOME``, ``HF_HUB_CACHE``, ``HF_TOKEN_PATH`` and
``HF_HUB_OFFLINE`` once, when it is first imported. A long-lived TUI (or a test) may change them
afterwards, so :func:`hf` copies the current values into the library's settings before each use.
In a plain CLI process the values are the ones the library read anyway, so this changes nothing.

Secrets: :func:`scrub` removes the active token (and anything shaped like an HF token) from text
that is about to be shown or logged.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from types import ModuleType

from cosmos_tui.core.safeio import POINTER_CAP, read_text_capped

DEFAULT_ENDPOINT = "https://huggingface.co"
_TOKEN_SHAPE = re.compile(r"\bhf_[A-Za-z0-9_\-]{4,}")


def _truthy(value: str | None) -> bool:
    return (value or "").strip().upper() in {"1", "ON", "YES", "TRUE"}


def _expand(path: str) -> str:
    return os.path.expandvars(os.path.expanduser(path))


def endpoint() -> str:
    """The Hub endpoint (``HF_ENDPOINT``, else https://huggingface.co), without a trailing slash."""
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def offline() -> bool:
    """Whether ``HF_HUB_OFFLINE`` (or ``TRANSFORMERS_OFFLINE``) forbids network access."""
    return _truthy(os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE"))


def hf_home() -> Path:
    """``HF_HOME``, else ``$XDG_CACHE_HOME/huggingface``, else ``~/.cache/huggingface``."""
    default = os.path.join(os.environ.get("XDG_CACHE_HOME") or "~/.cache", "huggingface")
    return Path(_expand(os.environ.get("HF_HOME") or default))


def hub_cache() -> Path:
    """The HF hub cache (``HF_HUB_CACHE``, else ``$HF_HOME/hub``): where upstream code looks for weights."""
    env = os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE")
    return Path(_expand(env)) if env else hf_home() / "hub"


def token_path() -> Path:
    """The token file huggingface_hub writes (``HF_TOKEN_PATH``, else ``$HF_HOME/token``)."""
    env = os.environ.get("HF_TOKEN_PATH")
    return Path(_expand(env)) if env else hf_home() / "token"


def hf() -> ModuleType:
    """Import huggingface_hub with its settings brought in line with the current environment."""
    import huggingface_hub  # deferred: huggingface_hub, only when the Hub is used
    from huggingface_hub import constants, hf_api  # deferred: huggingface_hub, only when the Hub is used

    ep = endpoint()
    if ep != constants.ENDPOINT:
        constants.ENDPOINT = ep
        constants.HUGGINGFACE_CO_URL_TEMPLATE = ep + "/{repo_id}/resolve/{revision}/{filename}"
    hf_api.api.endpoint = ep  # the module-level client behind huggingface_hub.whoami/login
    constants.HF_HOME = str(hf_home())
    constants.HF_HUB_CACHE = str(hub_cache())
    constants.HF_TOKEN_PATH = str(token_path())
    constants.HF_STORED_TOKENS_PATH = str(token_path().parent / "stored_tokens")
    constants.HF_HUB_OFFLINE = offline()
    return huggingface_hub


def current_token() -> str | None:
    """The token huggingface_hub would send (``HF_TOKEN`` first, then the token file), or None."""
    hf()
    from huggingface_hub.utils import get_token  # deferred: huggingface_hub, only when the Hub is used

    return get_token()


def token_source() -> str | None:
    """Where the active token comes from: ``"env"`` (HF_TOKEN), ``"file"``, or None."""
    if os.environ.get("HF_TOKEN") or os.environ.get("HUGGING_FACE_HUB_TOKEN"):
        return "env"
    return "file" if _file_token() else None


def scrub(text: str, *secrets: str | None) -> str:
    """``text`` with the active token, the given secrets and any HF-token-shaped string masked."""
    for secret in (*secrets, os.environ.get("HF_TOKEN"), _file_token()):
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return _TOKEN_SHAPE.sub("hf_***", text)


def _file_token() -> str | None:
    try:  # bounded: a token file that is (or links to) /dev/zero or a FIFO is no token
        return read_text_capped(token_path(), POINTER_CAP, what="token file").strip() or None
    except (OSError, UnicodeDecodeError):
        return None


def is_network_error(e: BaseException) -> bool:
    """Whether ``e`` means the Hub could not be reached (huggingface_hub 2.x raises httpx2 errors)."""
    if isinstance(e, (ConnectionError, TimeoutError)):
        return True
    return any(
        c.__name__ == "TransportError" and c.__module__.split(".")[0] in {"httpx", "httpx2"}
        for c in type(e).__mro__
    )
