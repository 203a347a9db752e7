"""The environment that keeps ragchat offline: nothing downloads, nothing phones home.

`OFFLINE_VARIABLES` is the one list (Hugging Face hub and transformers offline, Chroma and
Gradio telemetry off, no tokenizer thread pools fighting the embedder's). `set_offline()`
applies it to this process, leaving any value the user set explicitly; `offline_env()`
returns an environment for a child process with it forced on. This module does not check
the network or configure anything else.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

OFFLINE_VARIABLES: Mapping[str, str] = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "TOKENIZERS_PARALLELISM": "false",
}


def set_offline() -> None:
    """Set the offline variables in this process, except those already set."""
    for name, value in OFFLINE_VARIABLES.items():
        os.environ.setdefault(name, value)


def offline_env(base: Mapping[str, str] | None = None, **extra: str) -> dict[str, str]:
    """A copy of `base` (default: this process's environment) with the offline variables
    forced on and `extra` added, for starting a child process."""
    env = dict(os.environ if base is None else base)
    env.update(OFFLINE_VARIABLES)
    env.update(extra)
    return env
