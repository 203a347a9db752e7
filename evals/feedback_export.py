"""`rag eval --export-feedback FILE`: thumbs-down answers from the web chat as an eval suite.

Each answer a user marked wrong becomes a case: the question (a follow-up keeps the questions
before it as earlier turns, so it is asked in the same context), the user's note, the answer
that was given and the sources it cited. The expected answer is what the maintainer adds:
every case carries `answers: []` under a `# TODO` comment and a `todo:` line naming what to
fill, and `rag eval` loads the file as it is (a case with no expectations is asked and
reported, not scored). The ids are stable (`feedback-<row id>`), so a re-export can be merged.
This module does not collect feedback (ui.feedback does) or run the suite.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import yaml

from ui.feedback import FeedbackRecord, FeedbackStore

TODO = (
    "fill `answers` with the correct answer(s) (or set `unanswerable: true`), check "
    "`sources`, then delete this line"
)
HEADER = """\
# Eval cases from answers marked wrong (thumbs down) in the ragchat web chat.
# Exported {when} from {db}.
# Each case needs a maintainer: look for the TODO lines, write the expected answer(s)
# under `answers` (or `unanswerable: true`), list the expected source files under `sources`,
# and delete the `todo` line. `note`, `given_answer` and `cited_sources` are kept for
# reference; `rag eval` ignores them.
"""


def _case(record: FeedbackRecord) -> dict[str, Any]:
    last: dict[str, Any] = {"question": record.question}
    case: dict[str, Any] = {"id": f"feedback-{record.id}", "todo": TODO}
    if record.history:
        case["type"] = "multi-turn"
        case["turns"] = [{"question": q} for q in record.history] + [last]
    else:
        case.update(last)
    target = last if record.history else case
    target["answers"] = []
    target["sources"] = []
    case["note"] = record.note
    case["given_answer"] = record.answer
    case["cited_sources"] = sorted({c.source for c in record.citations})
    case["backend"] = record.backend
    case["model"] = record.model
    return case


def _mark_todos(text: str) -> str:
    """Put a `# TODO` comment above every empty `answers:` the maintainer must fill."""
    out = []
    for line in text.splitlines():
        if line.strip() in ("answers: []", "- answers: []"):
            indent = line[: len(line) - len(line.lstrip())]
            out.append(f"{indent}# TODO: the expected answer(s)")
        out.append(line)
    return "\n".join(out) + "\n"


def suite_yaml(records: list[FeedbackRecord], db: Path) -> str:
    """The suite file's text for these (thumbs-down) records."""
    body = yaml.safe_dump(
        {"name": "feedback", "cases": [_case(r) for r in records]},
        sort_keys=False,
        allow_unicode=True,
        width=100,
    )
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime())
    return HEADER.format(when=when, db=db) + _mark_todos(body)


def export_feedback(data_dir: Path, out: Path) -> int:
    """Write the thumbs-down answers stored under `data_dir` to `out`; returns how many.

    Raises ValueError (one readable line) when there is nothing to export.
    """
    from ui.state_db import db_path

    db = db_path(data_dir)
    if not db.is_file():
        raise ValueError(f"No web chat feedback yet: {db} does not exist (run `rag serve`).")
    records = FeedbackStore.for_data_dir(data_dir).records(rating=-1)
    if not records:
        raise ValueError(f"No answers are marked wrong (thumbs down) in {db}.")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(suite_yaml(records, db), encoding="utf-8")
    return len(records)


def export_command(settings: Any, out: Path) -> str:
    """`rag eval --export-feedback OUT` with the effective settings; returns the line to
    print. Problems end as one-line click errors (exit status 2)."""
    import click

    from ui.state_db import StateDBError

    try:
        count = export_feedback(settings.index.data_dir, out)
    except (ValueError, OSError, StateDBError) as err:
        raise click.ClickException(str(err)) from None
    return (
        f"Wrote {count} case(s) to {out}. Fill in the TODO lines (expected answers), "
        f"then run `rag eval {out}`."
    )
