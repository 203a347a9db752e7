"""Turn a follow-up question into a standalone retrieval query, using the conversation.

Two ways: a heuristic that always works (a follow-up with pronouns or ellipsis, or a very short
one, is completed with the key terms of the previous question and the names in the previous
answer: "Who did he speak with?" after "Who is the director of the SVR?" -> "director of
the SVR Sergey Naryshkin speak with"), and the model itself, asked for a one-line standalone
question (used when settings.llm.rewrite is "model", or "auto" with a capable backend); any
model failure falls back to the heuristic. `resolve_references` keeps a follow-up a question
("And who was he talking to?" -> "And who was Sergey Naryshkin talking to?") for the
short-answer reader and the premise check. Nothing is retrieved here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from rag.backends.base import ChatBackend, ChatRequest, complete
from rag.citations import MARKER_RE
from rag.types import Message

RewriteMode = Literal["auto", "model", "heuristic", "off"]

_REFERRING = {
    "he", "she", "they", "it", "its", "his", "her", "hers", "him", "them", "their", "theirs",
    "that", "this", "those", "these", "there", "then", "former", "latter", "same", "other",
}  # fmt: skip
_OPENERS = ("and ", "what about", "how about", "and what", "also", "but ", "what else")
_LEADING = re.compile(
    r"^\s*(who|whom|whose|what|which|when|where|why|how( many| much)?)\b"
    r"(\s+(is|are|was|were|did|does|do|has|have|had|can|could|will|would))?\s*",
    re.IGNORECASE,
)
_NAME_RE = re.compile(r"\b[A-Z][a-zA-Z’'.-]+(?:\s+[A-Z][a-zA-Z’'.-]+)*")
_PERSONAL = {"he": "", "she": "", "him": "", "her": "", "his": "'s", "hers": "'s"}
_NAME_STOP = {
    "I", "The", "A", "An", "In", "On", "At", "It", "He", "She", "They", "This", "That", "These",
    "According", "Both", "While", "However", "Yes", "No", "Who", "What", "When", "Where",
}  # fmt: skip
SHORT_WORDS = 4


@dataclass(frozen=True)
class Rewrite:
    query: str
    method: Literal["none", "heuristic", "model"]


def needs_rewrite(question: str) -> bool:
    """Whether `question` leans on the conversation (pronouns, ellipsis, very short)."""
    lowered = question.strip().lower()
    words = re.findall(r"[a-z']+", lowered)
    if not words:
        return False
    return (
        lowered.startswith(_OPENERS)
        or any(w in _REFERRING for w in words)
        or len(words) <= SHORT_WORDS
    )


def _last(history: Sequence[Message], role: str) -> str:
    return next((m.content for m in reversed(history) if m.role == role), "")


def _names(text: str, limit: int = 4) -> list[str]:
    names: list[str] = []
    for match in _NAME_RE.findall(MARKER_RE.sub(" ", text)):
        words = [w for w in match.split() if w not in _NAME_STOP]
        name = " ".join(words).strip(" .’'")
        if name and name not in names and len(name) > 1:
            names.append(name)
    return names[:limit]


def _strip_referring(question: str) -> str:
    body = _LEADING.sub("", question.strip()).rstrip("?!. ")
    words = [w for w in body.split() if w.lower().strip(",.") not in _REFERRING]
    if words and words[0].lower() in {"and", "but", "also", "about"}:
        words = words[1:]
    return " ".join(words)


def heuristic_rewrite(question: str, history: Sequence[Message]) -> str:
    """Complete a follow-up with the previous question's terms and the previous answer's names."""
    previous_q = _last(history, "user")
    if not previous_q or not needs_rewrite(question):
        return question
    topic = _LEADING.sub("", previous_q.strip()).rstrip("?!. ")
    names = [n for n in _names(_last(history, "assistant")) if n.lower() not in topic.lower()]
    rest = _strip_referring(question)
    lowered = question.strip().lower()
    if lowered.startswith(("what about", "how about", "and ")) and rest:
        # "And the CIA?" asks the previous question about something else.
        return " ".join(p for p in (topic, rest) if p)
    return " ".join(p for p in (topic, " ".join(names), rest) if p)


def resolve_references(question: str, history: Sequence[Message]) -> str:
    """`question` with its first personal pronoun replaced by the name the previous answer
    leads with (the short answer of an answer-first reply), or unchanged."""
    if not history or not needs_rewrite(question):
        return question
    previous = _last(history, "assistant")
    lead = previous.split(" — ", 1)[0] if " — " in previous else ""
    names = _names(lead) or _names(previous)
    if not names:
        return question
    words = question.split(" ")
    for i, word in enumerate(words):
        core = word.strip("?!.,;:").lower()
        if core in _PERSONAL:
            tail = word[len(word.rstrip("?!.,;:")) :]
            words[i] = names[0] + _PERSONAL[core] + tail
            return " ".join(words)
    return question


_SYSTEM = (
    "Rewrite the user's last question as one standalone question that can be understood "
    "without the conversation. Replace pronouns with the names they refer to. "
    "Reply with the question only."
)


def model_rewrite(question: str, history: Sequence[Message], backend: ChatBackend) -> str:
    """Ask the backend for a standalone question (raises on backend failure)."""
    turns = "\n".join(f"{m.role}: {MARKER_RE.sub('', m.content)[:600]}" for m in history[-4:])
    prompt = f"Conversation:\n{turns}\n\nLast question: {question}\nStandalone question:"
    request = ChatRequest(
        messages=(Message("system", _SYSTEM), Message("user", prompt)),
        question=question,
        max_tokens=64,
        temperature=0.0,
    )
    line = next((ln.strip() for ln in complete(backend, request).splitlines() if ln.strip()), "")
    line = line.removeprefix("Standalone question:").strip().strip('"')
    if not line or len(line) > 400:
        raise ValueError("the model gave no usable rewrite")
    return line


def rewrite_query(
    question: str,
    history: Sequence[Message],
    *,
    mode: RewriteMode = "auto",
    backend: ChatBackend | None = None,
    model_capable: bool = False,
) -> Rewrite:
    """The standalone query for `question`. `model_capable` says "auto" may use the model."""
    if not history or mode == "off" or not needs_rewrite(question):
        return Rewrite(question, "none")
    if backend is not None and (mode == "model" or (mode == "auto" and model_capable)):
        try:
            return Rewrite(model_rewrite(question, history, backend), "model")
        except Exception:  # any backend failure: the heuristic still works
            pass
    return Rewrite(heuristic_rewrite(question, history), "heuristic")
