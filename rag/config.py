"""The one typed settings object, loaded on demand: defaults < rag.toml < RAG_* env < flags.

`load_settings()` builds it; nothing here runs at import time. Nested groups map to TOML
tables (`[retrieval]`) and to environment variables with a double underscore
(`RAG_RETRIEVAL__TOP_K=8`, `RAG_INDEX__CHROMA_URL=http://127.0.0.1:8000`). A few common ones
also have a short form (`RAG_DATA_DIR`, `RAG_CHROMA_URL`, `RAG_BACKEND`).
A backend's options are its own pydantic model (`Options` on the backend class), under
`[llm.<backend>]`: the built-in ones are typed fields here; a third-party backend's table is
validated by its own model when the settings load.
Secrets (API keys) are never stored here: only the *name* of the variable that holds them.
This module opens nothing and builds no backend.
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from index.config import IndexSettings
from rag.backends.llama_cpp import LlamaCppOptions
from rag.backends.openai_backend import OpenAIOptions

_TOML_PATH: ContextVar[Path | None] = ContextVar("_TOML_PATH", default=None)

# Short environment names for the settings people change most.
_SHORT_ENV = {
    "RAG_DATA_DIR": ("index", "data_dir"),
    "RAG_CHROMA_URL": ("index", "chroma_url"),
    "RAG_BACKEND": ("llm", "backend"),
}


def _loc(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc)


class ConfigError(ValueError):
    """Settings could not be loaded; the message names the file/variable and the field."""


class RetrievalSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    top_k: int = Field(5, ge=1, le=100, description="Chunks given to the model as context.")
    candidates: int = Field(
        30,
        ge=1,
        le=1000,
        description="Hits each half (dense, BM25) returns before fusion, reranking and MMR.",
    )
    dense: bool = Field(True, description="Use dense (embedding) retrieval from Chroma.")
    bm25: bool = Field(True, description="Use BM25 keyword retrieval (bm25s).")
    fusion: Literal["convex", "rrf"] = Field(
        "convex",
        description=(
            "How dense and BM25 hits are combined: 'convex' = weighted sum of each half's "
            "scores divided by its best score, 'rrf' = reciprocal-rank fusion."
        ),
    )
    rrf_k: int = Field(60, ge=1, description="Reciprocal-rank fusion constant k.")
    dense_weight: float = Field(1.5, ge=0, description="Weight of the dense half in fusion.")
    bm25_weight: float = Field(1.0, ge=0, description="Weight of the BM25 half in fusion.")
    mmr: bool = Field(False, description="Re-order hits with maximal marginal relevance.")
    mmr_lambda: float = Field(
        0.7, ge=0, le=1, description="MMR trade-off: 1 = relevance only, 0 = diversity only."
    )
    neighbours: int = Field(
        0, ge=0, le=3, description="Also include this many neighbouring chunks of each hit."
    )
    sources: list[str] = Field(
        default_factory=list, description="Only search these source files (empty: all)."
    )
    reranker: str | None = Field(
        None, description="Path to a local sentence-transformers CrossEncoder (off when empty)."
    )


class LLMSettings(BaseModel):
    # Extra keys are the option tables of third-party backends ([llm.<backend>]).
    model_config = ConfigDict(extra="allow")

    backend: str = Field("extractive", description="Backend that answers (see `rag backends`).")
    max_tokens: int = Field(256, ge=1, description="Longest answer, in tokens.")
    temperature: float = Field(
        0.1, ge=0, le=2, description="Sampling temperature (0: the same answer every time)."
    )
    rewrite: Literal["auto", "model", "heuristic", "off"] = Field(
        "auto",
        description=(
            "How follow-up questions become standalone queries: 'model' asks the answering "
            "model, 'heuristic' completes them from the previous turn, 'auto' uses the model "
            "when its backend can rewrite (not the small bundled model) and the heuristic "
            "otherwise, 'off' searches the question as asked."
        ),
    )
    llama_cpp: LlamaCppOptions = Field(default_factory=LlamaCppOptions)
    openai: OpenAIOptions = Field(default_factory=OpenAIOptions)

    @model_validator(mode="after")
    def _backend_tables(self) -> LLMSettings:
        """Each extra table holds the options of a registered backend, checked by its model."""
        extra = self.__pydantic_extra__ or {}
        for key, table in extra.items():
            if isinstance(table, BaseModel):
                continue
            if not isinstance(table, dict):
                raise ValueError(f"'{key}' is not a setting of [llm]")
            from rag.backends import registry

            name = registry.name_for_key(key)
            if name is None:
                known = ", ".join(registry.names())
                raise ValueError(f"[llm.{key}] names no installed backend (known: {known})")
            options_model = registry.backend_class(name).Options
            try:
                extra[key] = options_model.model_validate(table)
            except ValidationError as err:
                problems = "; ".join(f"{_loc(e['loc'])}: {e['msg']}" for e in err.errors())
                raise ValueError(f"[llm.{key}] {problems}") from None
        return self


class GroundingSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    support_threshold: float = Field(
        0.5,
        ge=0,
        le=1,
        description=(
            "Score (lexical and embedding support combined) an answer sentence needs to count "
            "as supported by the passages it cites."
        ),
    )
    lexical_weight: float = Field(
        0.5, ge=0, le=1, description="Weight of lexical overlap (the rest is embedding similarity)."
    )
    abstain: bool = Field(True, description="Refuse when the documents do not hold the answer.")
    refusal_model: bool = Field(
        True,
        description=(
            "Decide from the retrieval signals with the logistic model fitted on DEV questions "
            "(rag.answerability); false: the coverage and similarity thresholds below."
        ),
    )
    min_term_coverage: float = Field(
        0.35,
        ge=0,
        le=1,
        description=(
            "Refuse when the retrieved chunks hold less than this IDF-weighted share of the "
            "question's key terms."
        ),
    )
    coverage_word_similarity: float | None = Field(
        None,
        ge=0,
        le=1,
        description=(
            "A question word the passages say in other words (embedding cosine at least this) "
            "counts as covered; none: only the same word stem counts."
        ),
    )
    min_dense_score: float = Field(
        0.2,
        ge=-1,
        le=1,
        description=(
            "Refuse when the best hit's cosine similarity to the question is below this and "
            "key-term coverage is below confident_coverage."
        ),
    )
    abstain_on_unknown_names: bool = Field(
        True,
        description="Refuse when a name or number of the question never occurs in the corpus.",
    )
    check_claims: bool = Field(
        True,
        description=(
            "A sentence is supported only when the cited text states its names, numbers, "
            "dates and key words in the same roles (rag.claims)."
        ),
    )
    check_premises: bool = Field(
        True,
        description=(
            "Refuse when the retrieved passages lack a name, date, event or narrowing word "
            "the question takes for granted (rag.premise)."
        ),
    )
    short_answers: bool = Field(
        True,
        description="Lead the reply with the short answer span the reader finds (rag.reader).",
    )
    # chosen on SQuAD open-book DEV (300) with the span feature and the confidence fitted on
    # out-of-fold picks (it runs lower): 0.2 -> accuracy 0.737, F1 0.374; 0.35 -> 0.747, 0.373
    # (the reader without the span feature: 0.2 -> 0.737, 0.357)
    min_short_answer_score: float = Field(
        0.2,
        ge=0,
        le=1,
        description=(
            "Reader confidence a short answer needs to lead the reply; below it the reply "
            "quotes the best sentences instead."
        ),
    )
    confident_coverage: float = Field(
        0.8,
        ge=0,
        le=1,
        description=(
            "Key-term coverage above which the answer is attempted even with a low similarity "
            "or a model that said it found nothing (then the extractive fallback answers)."
        ),
    )


class ServerSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = Field("127.0.0.1", description="Address the web app binds to (loopback default).")
    port: int = Field(7860, ge=0, le=65535, description="Port of the web app and the API.")
    auth: str | None = Field(None, description="Basic auth for the web chat, as 'user:pass'.")
    api_key_env: str = Field(
        "RAG_API_KEY", description="Variable holding the key required on /v1 (unset: open)."
    )
    max_upload_mb: float = Field(10.0, gt=0, description="Largest file accepted from uploads.")
    max_question_chars: int = Field(2000, ge=10, description="Longest question accepted.")
    concurrency: int = Field(2, ge=1, description="Answers generated at once.")


class ApiSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sources_in_content: bool = Field(
        True,
        description=(
            "Append the cited sources (title, file, quoted span per [n]) to /v1 answers' text, "
            "for clients that ignore the `citations` field; a request can ask for bare text."
        ),
    )


class Settings(BaseSettings):
    """Every setting of ragchat. `rag config` prints the effective values."""

    model_config = SettingsConfigDict(
        env_prefix="RAG_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    index: IndexSettings = Field(default_factory=IndexSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    grounding: GroundingSettings = Field(default_factory=GroundingSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        toml_path = _TOML_PATH.get()
        if toml_path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_path))
        return tuple(sources)


def deep_merge(
    base: dict[str, Any], extra: dict[str, Any], *, drop_none: bool = False
) -> dict[str, Any]:
    """`extra` merged into a copy of `base`, nested dicts key by key. With `drop_none`, None
    values in `extra` (flags not given) are left out."""
    out = dict(base)
    for key, value in extra.items():
        if value is None and drop_none:
            continue
        if isinstance(value, dict) and isinstance(out.get(key, {}), dict):
            out[key] = deep_merge(out.get(key, {}), value, drop_none=drop_none)
        else:
            out[key] = value
    return out


def _short_env() -> dict[str, Any]:
    found: dict[str, Any] = {}
    for var, (group, key) in _SHORT_ENV.items():
        if os.environ.get(var):
            found.setdefault(group, {})[key] = os.environ[var]
    return found


def config_path(explicit: str | Path | None = None) -> Path | None:
    """The TOML file to read: the explicit one, $RAG_CONFIG, or ./rag.toml if it exists."""
    if explicit:
        return Path(explicit)
    if os.environ.get("RAG_CONFIG"):
        return Path(os.environ["RAG_CONFIG"])
    default = Path("rag.toml")
    return default if default.is_file() else None


def load_settings(
    overrides: dict[str, Any] | None = None, config_file: str | Path | None = None
) -> Settings:
    """Build the effective settings. `overrides` are CLI flags, as nested dicts.

    Raises ConfigError with a readable message (file, variable, field) on bad values.
    """
    path = config_path(config_file)
    if path is not None and not path.is_file():
        raise ConfigError(f"Config file not found: {path}")
    init = deep_merge(_short_env(), overrides or {})
    token = _TOML_PATH.set(path)
    try:
        return Settings(**init)
    except ValidationError as err:
        problems = "; ".join(
            f"{_loc(e['loc'])}: {e['msg'].removeprefix('Value error, ')}" for e in err.errors()
        )
        where = f" (config file {path}, RAG_* environment, or flags)" if path else ""
        raise ConfigError(f"Invalid settings{where}: {problems}") from None
    except Exception as err:  # a TOML syntax error, an unreadable file
        raise ConfigError(f"Could not read settings from {path}: {err}") from None
    finally:
        _TOML_PATH.reset(token)


def describe(settings: Settings) -> list[tuple[str, Any, str]]:
    """(dotted name, value, description) for every setting, for `rag config`."""
    rows: list[tuple[str, Any, str]] = []

    def walk(model: BaseModel, prefix: str) -> None:
        for name, info in type(model).model_fields.items():
            value = getattr(model, name)
            dotted = f"{prefix}{name}"
            if isinstance(value, BaseModel):
                walk(value, dotted + ".")
            else:
                rows.append((dotted, value, info.description or ""))
        for name, value in (model.__pydantic_extra__ or {}).items():
            if isinstance(value, BaseModel):  # a third-party backend's options
                walk(value, f"{prefix}{name}.")

    walk(settings, "")
    return rows
