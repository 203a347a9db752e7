"""How well a claim checker tells stated claims from unstated ones, on labelled claims.

Labelled claims come from evals.answering.claims_data: SQuAD gold answer sentences against
their paragraph (should pass) and the same sentences with one entity or number swapped
(should fail), and SciFact claims against their evidence abstracts (SUPPORT should pass,
CONTRADICT should fail). "Unsupported" is the positive class: precision and recall of the
checker's "unsupported" verdicts, and the share of should-pass claims it flags (false flags).

Two checkers run on the same claims: `rag.claims.check_claim` (after) and the support score the
answer check used before it (`SupportScorer`: lexical + embedding score over the settings'
threshold, and every capitalised word or number present). `run_claims_eval(split)` returns a
typed `ClaimsEvalResult`; `python -m evals.answering.claims_eval [--split dev|test]` prints it.
The premise check (rag.premise.premise_gaps) runs on the same SQuAD questions against their
paragraph (should pass) and near-miss twins with one entity or number swapped (should fail),
beside the names check refusals used before. Fit rules on DEV (rag.claims.ClaimRules,
rag.premise.PremiseRules), report TEST once. This module prints only in main().
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from evals.answering.claims_data import (
    LabelledClaim,
    scifact_claims,
    squad_claims,
    squad_questions,
    write_splits,
)
from evals.answering.common import Split, check_split, markdown_table

Checker = Callable[[Sequence[LabelledClaim]], list[bool]]  # True = judged supported

TARGET_RECALL = 0.90  # of "unsupported" on swapped SQuAD sentences
TARGET_FALSE_FLAGS = 0.10  # on gold SQuAD sentences


@dataclass(frozen=True)
class CheckerRates:
    """One checker on one labelled set; "unsupported" is the positive class."""

    checker: str
    dataset: str  # "squad" (gold vs swapped sentences) or "scifact" (SUPPORT vs CONTRADICT)
    should_fail: int
    should_pass: int
    caught: int  # should-fail claims judged unsupported
    false_flags: int  # should-pass claims judged unsupported
    ms_per_claim: float

    @property
    def recall(self) -> float | None:
        return self.caught / self.should_fail if self.should_fail else None

    @property
    def precision(self) -> float | None:
        flagged = self.caught + self.false_flags
        return self.caught / flagged if flagged else None

    @property
    def false_flag_rate(self) -> float | None:
        return self.false_flags / self.should_pass if self.should_pass else None


@dataclass(frozen=True)
class ClaimsEvalResult:
    split: str
    rows: tuple[CheckerRates, ...]

    def row(self, checker: str, dataset: str) -> CheckerRates:
        return next(r for r in self.rows if r.checker == checker and r.dataset == dataset)

    def meets_target(self, checker: str = "claims") -> bool:
        """≥ 0.90 recall on swapped SQuAD sentences at ≤ 0.10 false flags on gold ones."""
        row = self.row(checker, "squad")
        return (row.recall or 0.0) >= TARGET_RECALL and (row.false_flag_rate or 0.0) <= (
            TARGET_FALSE_FLAGS
        )

    def table(self) -> str:
        header = ["checker", "claims", "should fail", "should pass", "precision", "recall"]
        header += ["false flags", "ms/claim"]
        rows = [
            [
                r.checker,
                r.dataset,
                r.should_fail,
                r.should_pass,
                r.precision,
                r.recall,
                r.false_flag_rate,
                f"{r.ms_per_claim:.1f}",
            ]
            for r in self.rows
        ]
        return markdown_table(header, rows)


# What `rag eval --claims --fail-under NAME=VALUE` checks (higher is better for each).
CLAIMS_METRICS = ("squad_recall", "squad_gold_pass", "scifact_recall", "premise_recall")


def claims_metrics(result: ClaimsEvalResult) -> dict[str, float]:
    """The checker's headline figures: recall of "unsupported" on swapped SQuAD sentences and
    on SciFact CONTRADICT claims, the share of gold sentences it lets pass, and the premise
    check's recall on near-miss questions."""
    squad = result.row("claims", "squad")
    scifact = result.row("claims", "scifact")
    out = {
        "squad_recall": squad.recall or 0.0,
        "squad_gold_pass": 1.0 - (squad.false_flag_rate or 0.0),
        "scifact_recall": scifact.recall or 0.0,
    }
    premise = [r for r in result.rows if r.checker == "premise gaps"]
    if premise:
        out["premise_recall"] = premise[0].recall or 0.0
    return out


def claims_report(split: str, limit: int | None = None) -> tuple[str, dict[str, float]]:
    """`rag eval --claims`: the table and headline figures as Markdown, and the figures
    (`CLAIMS_METRICS`) for `--fail-under`. `limit`: the first N claims of each set."""
    result = run_claims_eval(split, ("claims",), limit=limit)
    metrics = claims_metrics(result)
    figures = ", ".join(f"{k} {v:.3f}" for k, v in metrics.items())
    text = f"## Claim checker on labelled claims ({split.upper()})\n\n{result.table()}\n\n{figures}"
    return text, metrics


def new_checker(claims: Sequence[LabelledClaim]) -> list[bool]:
    from rag.claims import check_claim

    return [check_claim(c.claim, c.cited).supported for c in claims]


def old_checker(claims: Sequence[LabelledClaim]) -> list[bool]:
    """The support score with the default settings' threshold, as the answer check used it."""
    from index.config import IndexSettings
    from index.embedding import get_embedder
    from index.types import Chunk
    from rag.backends.base import Passage
    from rag.config import GroundingSettings
    from rag.support import SupportScorer

    scorer = SupportScorer(get_embedder(IndexSettings()), GroundingSettings())
    threshold = scorer.settings.support_threshold
    chunks: dict[str, Chunk] = {}
    for c in claims:
        if c.cited not in chunks:
            n = len(chunks)
            chunks[c.cited] = Chunk(f"cited-{n}", f"cited/{n}", "", c.cited, 0, 0, len(c.cited), 0)
    vectors = scorer.prepare(list(chunks.values()), [c.claim for c in claims])
    out = []
    for c, vector in zip(claims, vectors, strict=True):
        support = scorer.score(c.claim, vector, [Passage(1, chunks[c.cited])], pick=False)
        out.append(support.combined >= threshold and not support.missing_names)
    return out


def premise_checker(questions: Sequence[LabelledClaim], events: bool = True) -> list[bool]:
    """True when rag.premise finds no gap between the question and its paragraph."""
    from rag.premise import PremiseRules, premise_gaps

    rules = PremiseRules(events=events)
    return [not premise_gaps(q.claim, q.cited, rules) for q in questions]


def premise_names_checker(questions: Sequence[LabelledClaim]) -> list[bool]:
    """The premise check without its event part (names, numbers, dates, narrowing words)."""
    return premise_checker(questions, events=False)


def names_checker(questions: Sequence[LabelledClaim]) -> list[bool]:
    """The names check refusals used before: every capitalised word and number of the
    question occurs in the evidence (stemmed)."""
    from rag.terms import content_terms, name_terms

    return [set(name_terms(q.claim)) <= set(content_terms(q.cited)) for q in questions]


CHECKERS: dict[str, Checker] = {"claims": new_checker, "support score (before)": old_checker}
PREMISE_CHECKERS: dict[str, Checker] = {
    "premise gaps": premise_checker,
    "premise gaps, no events": premise_names_checker,
    "names check (before)": names_checker,
}


def rates(checker: str, dataset: str, claims: Sequence[LabelledClaim], fn: Checker) -> CheckerRates:
    started = time.perf_counter()
    judged = fn(claims)
    elapsed = (time.perf_counter() - started) * 1000
    fail = [c for c in claims if not c.supported]
    return CheckerRates(
        checker=checker,
        dataset=dataset,
        should_fail=len(fail),
        should_pass=len(claims) - len(fail),
        caught=sum(1 for c, ok in zip(claims, judged, strict=True) if not c.supported and not ok),
        false_flags=sum(1 for c, ok in zip(claims, judged, strict=True) if c.supported and not ok),
        ms_per_claim=elapsed / len(claims) if claims else 0.0,
    )


def labelled(split: Split) -> dict[str, list[LabelledClaim]]:
    """The split's labelled claims by dataset."""
    return {"squad": squad_claims(split), "scifact": scifact_claims(split)}


def run_claims_eval(
    split: str = "dev",
    checkers: Sequence[str] = tuple(CHECKERS),
    premise: bool = True,
    limit: int | None = None,
) -> ClaimsEvalResult:
    """Every named checker on the split's labelled claims; with `premise`, also the premise
    check on the same SQuAD questions against their paragraph (answerable, should pass) and
    their near-miss twins (should fail)."""
    split = check_split(split)
    data = {name: claims[:limit] for name, claims in labelled(split).items()}
    rows = [
        rates(name, dataset, claims, CHECKERS[name])
        for name in checkers
        for dataset, claims in data.items()
    ]
    if premise:
        questions = squad_questions(split)[:limit]
        rows += [
            rates(name, "squad questions", questions, fn) for name, fn in PREMISE_CHECKERS.items()
        ]
    return ClaimsEvalResult(split, tuple(rows))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.answering.claims_eval")
    parser.add_argument("--split", choices=("dev", "test"), action="append")
    parser.add_argument("--checker", choices=tuple(CHECKERS), action="append")
    parser.add_argument("--write-splits", action="store_true", help="redraw the id lists")
    args = parser.parse_args(argv)
    if args.write_splits:
        write_splits()
    for split in args.split or ["dev"]:
        try:
            result = run_claims_eval(split, args.checker or tuple(CHECKERS))
        except FileNotFoundError as err:
            print(f"Error: {err}", file=sys.stderr)
            return 1
        print(f"Claim checker, {split.upper()} split")
        print(result.table())
        verdict = "meets" if result.meets_target() else "misses"
        print(
            f"target (recall >= {TARGET_RECALL} on swapped, false flags <= "
            f"{TARGET_FALSE_FLAGS} on gold SQuAD sentences): {verdict}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
