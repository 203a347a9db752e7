"""`--fail-under`: bare thresholds gate every backend, `BACKEND:` ones gate only that one."""

from __future__ import annotations

import click
import pytest

from evals.cli import check_thresholds, parse_thresholds

KNOWN = ("answer_accuracy", "mrr")
METRICS = {
    "extractive": {"answer_accuracy": 0.70, "mrr": 0.90},
    "llama-cpp": {"answer_accuracy": 0.40, "mrr": 0.90},
}


def test_a_bare_threshold_applies_to_every_backend() -> None:
    failures = check_thresholds(METRICS, parse_thresholds(("answer_accuracy=0.5",), KNOWN))
    assert failures == ["llama-cpp: answer_accuracy = 0.4000 < 0.5"]


def test_a_prefixed_threshold_applies_to_its_backend_only() -> None:
    thresholds = parse_thresholds(
        ("extractive:answer_accuracy=0.65", "llama-cpp:answer_accuracy=0.35"), KNOWN
    )
    assert check_thresholds(METRICS, thresholds) == []
    thresholds = parse_thresholds(("extractive:answer_accuracy=0.75",), KNOWN)
    assert check_thresholds(METRICS, thresholds) == ["extractive: answer_accuracy = 0.7000 < 0.75"]


def test_a_threshold_for_a_backend_that_did_not_run_fails() -> None:
    failures = check_thresholds(METRICS, parse_thresholds(("openai:mrr=0.1",), KNOWN))
    assert failures and "openai" in failures[0]


@pytest.mark.parametrize("bad", ["answer_accuracy", "answer_accuracy=high", "nope=0.5"])
def test_malformed_thresholds_are_usage_errors(bad: str) -> None:
    with pytest.raises(click.UsageError):
        parse_thresholds((bad,), KNOWN)
