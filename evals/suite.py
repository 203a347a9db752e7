"""The eval suite format (YAML): typed models, loading, and readable validation errors.

A suite is a name, an optional corpus folder and a list of cases. A case is either one
question (with expected `answers`, an optional `reference`, expected `sources`, or
`unanswerable: true`) or a conversation of `turns`, each scored like a case. Extra keys are
allowed and kept. A malformed suite raises `SuiteError` whose message names the file, the
case id and the field. This module does not run anything or compute metrics.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

CaseType = Literal["factoid", "paraphrase", "multi-document", "unanswerable", "multi-turn"]


class SuiteError(ValueError):
    """A suite could not be loaded; the message names the file, the case and the field."""


def _not_blank(value: str | None) -> str | None:
    if value is not None and not value.strip():
        raise ValueError("must not be empty")
    return value


def _no_blanks(value: list[str]) -> list[str]:
    if any(not item.strip() for item in value):
        raise ValueError("must not contain empty strings")
    return value


def _check_consistent(item: Turn | Case) -> None:
    if item.unanswerable and (item.answers or item.sources or item.reference):
        raise ValueError(
            "unanswerable: an unanswerable question cannot also have answers, sources "
            "or a reference"
        )


class _Expectations(BaseModel):
    """What a correct reply must show: shared by a conversation turn and a one-question case."""

    model_config = ConfigDict(extra="allow", frozen=True)

    answers: list[str] = Field(
        default_factory=list, description="Correct if any appears in the answer (ignoring case)."
    )
    reference: str | None = Field(None, description="A reference answer, for token F1.")
    sources: list[str] = Field(
        default_factory=list, description="Expected source files, relative to the corpus root."
    )
    unanswerable: bool = Field(False, description="Correct only if the assistant abstains.")

    @field_validator("question", check_fields=False)
    @classmethod
    def _question_text(cls, value: str | None) -> str | None:
        return _not_blank(value)

    @field_validator("answers", "sources")
    @classmethod
    def _items_text(cls, value: list[str]) -> list[str]:
        return _no_blanks(value)


class Turn(_Expectations):
    """One question and what a correct reply must show."""

    question: str = Field(description="What the user asks.")

    @model_validator(mode="after")
    def _consistent(self) -> Turn:
        _check_consistent(self)
        return self


class Case(_Expectations):
    """A single question (`question` ...) or a conversation (`turns`)."""

    id: str = Field(description="Unique within the suite; names the case in reports.")
    type: CaseType | None = Field(None, description="What the case exercises (for reports).")
    question: str | None = None
    turns: list[Turn] | None = None

    @field_validator("id", mode="before")
    @classmethod
    def _id_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) else value

    @model_validator(mode="after")
    def _question_or_turns(self) -> Case:
        if self.turns is None:
            if self.question is None:
                raise ValueError("question: a case needs 'question' (or 'turns')")
            _check_consistent(self)
            return self
        if self.question is not None:
            raise ValueError("turns: give either 'question' or 'turns', not both")
        if not self.turns:
            raise ValueError("turns: must hold at least one turn")
        return self

    def steps(self) -> list[Turn]:
        """The questions to ask in order (one for a single-question case)."""
        if self.turns is not None:
            return list(self.turns)
        assert self.question is not None
        return [
            Turn(
                question=self.question,
                answers=self.answers,
                reference=self.reference,
                sources=self.sources,
                unanswerable=self.unanswerable,
            )
        ]


class Suite(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    name: str
    corpus: str | None = Field(None, description="Folder to index for this suite (optional).")
    cases: list[Case]
    path: str | None = Field(None, description="The file the suite was read from.")


@dataclass(frozen=True)
class Step:
    """One scored question: a case, or one turn of a multi-turn case."""

    case_id: str
    turn: int | None  # 0-based turn index for conversations
    turn_data: Turn
    case_type: str | None

    @property
    def label(self) -> str:
        return self.case_id if self.turn is None else f"{self.case_id}#{self.turn + 1}"


def steps_of(suite: Suite) -> list[Step]:
    """Every scored question of a suite, in order."""
    out: list[Step] = []
    for case in suite.cases:
        multi = case.turns is not None
        for i, turn in enumerate(case.steps()):
            out.append(Step(case.id, i if multi else None, turn, case.type))
    return out


def _describe(err: ValidationError) -> str:
    """The first problem of a ValidationError as 'field: message'."""
    first = err.errors()[0]
    loc = ".".join(str(p) for p in first["loc"])
    msg = first["msg"].removeprefix("Value error, ")
    if first["type"] == "literal_error":
        msg = f"unknown value {first.get('input')!r} ({msg})"
    return f"{loc}: {msg}" if loc else msg


def parse_suite(data: Any, where: str = "<suite>") -> Suite:
    """Validate already-parsed YAML data. Raises SuiteError naming the case and the field."""
    if not isinstance(data, dict):
        raise SuiteError(f"{where}: a suite must be a mapping with 'name' and 'cases'")
    for key in ("name", "cases"):
        if key not in data:
            raise SuiteError(f"{where}: field '{key}' is missing")
    raw_cases = data["cases"]
    if not isinstance(raw_cases, list) or not raw_cases:
        raise SuiteError(f"{where}: field 'cases' must be a non-empty list")
    cases: list[Case] = []
    seen: set[str] = set()
    for i, raw in enumerate(raw_cases):
        if not isinstance(raw, dict):
            raise SuiteError(f"{where}: cases[{i}] must be a mapping, got {type(raw).__name__}")
        label = f"case '{raw['id']}'" if raw.get("id") is not None else f"cases[{i}] (no id)"
        try:
            case = Case.model_validate(raw)
        except ValidationError as err:
            raise SuiteError(f"{where}: {label}: {_describe(err)}") from None
        if case.id in seen:
            raise SuiteError(f"{where}: {label}: id: duplicate id (ids must be unique)")
        seen.add(case.id)
        cases.append(case)
    rest = {k: v for k, v in data.items() if k != "cases"}
    try:
        return Suite.model_validate({**rest, "cases": cases})
    except ValidationError as err:
        raise SuiteError(f"{where}: {_describe(err)}") from None


def load_suite(path: str | Path) -> Suite:
    """Read and validate a suite file."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SuiteError(f"{path}: suite file not found") from None
    except (OSError, UnicodeDecodeError) as err:
        raise SuiteError(f"{path}: cannot read the suite: {err}") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise SuiteError(f"{path}: not valid YAML{where}: {getattr(err, 'problem', err)}") from None
    suite = parse_suite(data, str(path))
    return suite.model_copy(update={"path": str(path)})


def split_path(suite_path: str | Path, split: str) -> Path:
    """Where a suite's committed case ids of `split` live: `evals/splits/<stem>-<split>.txt`
    for `evals/suites/<stem>.yaml` (a `splits` folder beside the suite's folder)."""
    path = Path(suite_path)
    return path.parent.parent / "splits" / f"{path.stem}-{split}.txt"


def split_suite(suite: Suite, split: str) -> Suite:
    """Only the cases of the suite's committed `split` ("dev" or "test")."""
    if suite.path is None:
        raise SuiteError("a suite read from no file has no committed splits")
    ids_file = split_path(suite.path, split)
    try:
        ids = {line.strip() for line in ids_file.read_text(encoding="utf-8").splitlines()}
    except OSError:
        raise SuiteError(f"{suite.path}: no {split} split ({ids_file} is missing)") from None
    cases = [c for c in suite.cases if c.id in ids]
    unknown = ids - {c.id for c in suite.cases} - {""}
    if unknown:
        raise SuiteError(f"{ids_file}: ids not in the suite: {', '.join(sorted(unknown)[:5])}")
    return suite.model_copy(update={"cases": cases, "name": f"{suite.name} ({split})"})


def combine(suites: Sequence[Suite]) -> Suite:
    """One suite from several: names joined with '+', case ids prefixed by the suite name."""
    if len(suites) == 1:
        return suites[0]
    corpora = {s.corpus for s in suites}
    if len(corpora) > 1:
        raise SuiteError("suites run together must use the same corpus")
    cases = [
        case.model_copy(update={"id": f"{suite.name}/{case.id}"})
        for suite in suites
        for case in suite.cases
    ]
    return Suite(
        name="+".join(s.name for s in suites),
        corpus=suites[0].corpus,
        cases=cases,
        path=suites[0].path,
    )
