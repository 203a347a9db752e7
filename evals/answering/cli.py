"""The answering evals behind `rag eval`: `--squad-open FILE` and `--unanswerable FILE --kind K`.

`answering_command` is what `rag eval` calls: it prints the table (the JSON on stdout with
--json) and exits 1 when a `--fail-under` threshold is missed. `run_answering` runs one eval on
the committed DEV or TEST questions for each backend and returns the Markdown table, the
per-backend metrics (the names `--fail-under` accepts are ANSWERING_METRICS) and the JSON-ready
results, which are also written to `<out>/<eval>-<split>.json` and `.md`. Problems (a missing
file, an unknown backend, an index that cannot be built) become one `click.ClickException`
line. Scoring lives in squad_open.py and unanswerable.py; this module only wires them.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from evals.answering.common import SquadData

# Higher is better for all of them (false refusals are checked as answerable_accuracy).
ANSWERING_METRICS = (
    "answer_accuracy",
    "token_f1",
    "exact_match",
    "hit_at_5",
    "refusal_rate",
    "answerable_accuracy",
)


class AnsweringEvalError(click.ClickException):
    """The eval could not run; one line, exit status 2 like the other eval errors."""

    exit_code = 2


def run_answering(
    settings: Any,
    *,
    squad_open: str | None,
    unanswerable: str | None,
    kind: str,
    split: str,
    backends: Sequence[str],
    limit: int | None,
    out_dir: Path | None,
) -> tuple[str, dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """(Markdown table, {backend: metrics}, JSON results) of one answering eval."""
    from evals.answering import squad_open as so
    from evals.answering import unanswerable as un
    from evals.datasets.squad import SquadError
    from index.embedding import EmbeddingError
    from index.pipeline import IndexBusyError
    from index.store import IndexMismatchError, StoreError
    from rag.backends.registry import UnknownBackend, check_name

    failures: tuple[type[Exception], ...] = (SquadError, UnknownBackend, ValueError, OSError)
    failures += (EmbeddingError, IndexBusyError, IndexMismatchError, StoreError)

    try:
        for name in backends:
            check_name(name)
        progress = sys.stderr.isatty()
        if squad_open:
            results: list[Any] = so.run_squad_open(
                split, backends, settings, path=squad_open, limit=limit, progress=progress
            )
            markdown, name = so.results_markdown(results), f"squad-open-{split}"
        else:
            path = unanswerable or ""
            results = un.run_unanswerable(
                kind, split, backends, settings, path=path, limit=limit, progress=progress
            )
            markdown, name = un.results_markdown(results), f"unanswerable-{kind}-{split}"
    except failures as err:
        raise AnsweringEvalError(str(err)) from None
    data = [r.to_json() for r in results]
    metrics = {
        r.backend: {k: v for k, v in d.items() if k != "items"}
        for r, d in zip(results, data, strict=True)
    }
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / f"{name}.json").write_text(json.dumps(data, ensure_ascii=False, indent=1))
        (out_dir / f"{name}.md").write_text(markdown)
    return markdown, metrics, data


def script_main(
    *,
    squad_open: str | None = None,
    unanswerable: str | None = None,
    kind: str = "out-of-corpus",
    split: str,
    backends: Sequence[str],
    limit: int | None,
    json_out: str | None,
    write_splits: Callable[[SquadData], list[Path]] | None = None,
) -> None:
    """What `python -m evals.answering.squad_open` / `.unanswerable` do: regenerate the
    committed question sets (`write_splits`), or run the eval, print its table and write the
    JSON results to `json_out`."""
    from evals.answering.common import load_data
    from evals.datasets.squad import SquadError
    from rag.config import load_settings

    if write_splits is not None:
        try:
            written = write_splits(load_data(squad_open or unanswerable or ""))
        except (SquadError, ValueError, OSError) as err:
            raise AnsweringEvalError(str(err)) from None
        click.echo("".join(f"Wrote {path}\n" for path in written), nl=False)
        return
    settings = load_settings()
    markdown, _, data = run_answering(
        settings,
        squad_open=squad_open,
        unanswerable=unanswerable,
        kind=kind,
        split=split,
        backends=backends or (settings.llm.backend,),
        limit=limit,
        out_dir=None,
    )
    if json_out:
        Path(json_out).write_text(json.dumps(data, indent=1))
    click.echo(markdown)


def answering_command(
    settings: Any,
    *,
    squad_open: str | None,
    unanswerable: str | None,
    kind: str,
    split: str,
    backends: Sequence[str],
    limit: int | None,
    out_dir: Path,
    as_json: bool,
    fail_under: Sequence[str],
) -> None:
    """Run, print, write and check thresholds, as `rag eval` does for its suites."""
    from evals.cli import _exit_on_failures, parse_thresholds

    thresholds = parse_thresholds(tuple(fail_under), ANSWERING_METRICS)
    markdown, metrics, data = run_answering(
        settings,
        squad_open=squad_open,
        unanswerable=unanswerable,
        kind=kind,
        split=split,
        backends=backends or (settings.llm.backend,),
        limit=limit,
        out_dir=out_dir,
    )
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False))
    click.echo(markdown, err=as_json)
    _exit_on_failures(metrics, thresholds)
