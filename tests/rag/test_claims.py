"""The claim checker and the premise check on the default corpus's real articles.

What the articles say (corpus/): 000 reports that CIA Director John Ratcliffe initiated a
phone call on Tuesday with SVR Director Sergey Naryshkin, the first direct contact in over two
years; 001 quotes Emily Ferris (RUSI) and Edward Hunter Christie (Finnish Institute of
International Affairs) and mentions a proposed 30-day ceasefire Ukraine was ready to accept;
004 names the Five Eyes alliance. No article reports a call by Trump, an in-person meeting or a
deputy director.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.claims import check_claim
from rag.premise import premise_gaps

CORPUS = Path(__file__).resolve().parents[2] / "corpus"
RATCLIFFE = (
    "CIA Director John Ratcliffe initiated the call with his counterpart, SVR Director Sergey "
    "Naryshkin, to discuss areas of potential cooperation and crisis resolution."
)
CHRISTIE = (
    "Edward Hunter Christie of the Finnish Institute of International Affairs expressed "
    "concerns about America opening itself up to Russian influences intentionally."
)


def article(prefix: str) -> str:
    (path,) = CORPUS.glob(f"{prefix}_*.txt")
    return path.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def corpus() -> list[str]:
    return [p.read_text(encoding="utf-8") for p in sorted(CORPUS.glob("*.txt"))]


# -- the failures users saw -------------------------------------------------------------------


def test_christie_does_not_answer_which_official_trump_called(corpus: list[str]) -> None:
    question = "Which Russian official did Trump call?"
    assert premise_gaps(question, corpus), "no article says Trump called anyone"
    # The quote itself is true, but read as the answer it claims a call that never happened.
    assert check_claim(CHRISTIE, article("001")).supported
    verdict = check_claim("Trump called Edward Hunter Christie.", article("001"))
    assert not verdict.supported
    assert "called" in verdict.missing


def test_deputy_director_is_a_gap_against_the_ratcliffe_sentence() -> None:
    gaps = premise_gaps("Who is the deputy director of the CIA?", RATCLIFFE)
    assert "deputy" in gaps
    verdict = check_claim("John Ratcliffe is the deputy director of the CIA.", article("000"))
    assert not verdict.supported
    assert verdict.missing == ("deputy",)
    assert "deputy" in verdict.reason


@pytest.mark.parametrize(
    ("true_claim", "swapped"),
    [
        (
            "CIA Director John Ratcliffe initiated the call with SVR Director Sergey Naryshkin.",
            "SVR Director Sergey Naryshkin initiated the call with CIA Director John Ratcliffe.",
        ),
        ("The call was initiated by Ratcliffe.", "The call was initiated by Naryshkin."),
        (
            "Ukraine indicated its readiness to embrace a proposed 30-day ceasefire with Russia.",
            "Russia indicated its readiness to embrace a proposed 30-day ceasefire with Ukraine.",
        ),
    ],
)
def test_swapped_roles_fail_where_the_true_claim_passes(true_claim: str, swapped: str) -> None:
    text = article("000") + "\n\n" + article("001")
    assert check_claim(true_claim, text).supported
    verdict = check_claim(swapped, text)
    assert not verdict.supported
    assert "not the one who" in verdict.reason


def test_meeting_in_person_is_a_gap_when_they_only_spoke_by_phone(corpus: list[str]) -> None:
    assert "meet" in premise_gaps("Where did they meet in person?", corpus)
    assert "met" in check_claim("Ratcliffe met Naryshkin in person.", article("000")).missing


def test_an_event_no_article_reports_is_a_gap(corpus: list[str]) -> None:
    assert premise_gaps("Which European country hosted the talks?", corpus) == ("hosted",)


# -- what must still pass ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "claim",
    [
        "Ratcliffe initiated a call with Naryshkin.",
        "The directors of the CIA and the SVR held a phone call on Tuesday.",
        "This was the first direct communication between the two intelligence chiefs in 2 years.",
    ],
)
def test_paraphrases_of_stated_facts_pass(claim: str) -> None:
    assert check_claim(claim, article("000")).supported


@pytest.mark.parametrize(
    ("question", "prefix"),
    [
        ("What is the name of the alliance of five English-speaking countries mentioned?", "004"),
        ("Who heads the CIA?", "000"),
        ("What is Ratcliffe's job?", "000"),
        ("Who initiated the phone call?", "000"),
        ("When did the CIA and SVR chiefs talk?", "000"),
    ],
)
def test_words_the_corpus_phrases_otherwise_are_no_gaps(question: str, prefix: str) -> None:
    assert premise_gaps(question, article(prefix)) == ()


def test_names_numbers_and_dates_the_text_lacks_are_named() -> None:
    text = article("000")
    assert check_claim("The chiefs held a phone call on Wednesday.", text).missing == ("Wednesday",)
    three = check_claim(
        "It was the first direct communication between the two chiefs in over 3 years.", text
    )
    assert three.missing == ("3",)
    assert "'3'" in three.reason
    gaps = premise_gaps("What did Naryshkin discuss with Ratcliffe in 2019?", text)
    assert gaps == ("2019",)


@pytest.mark.parametrize(
    ("claim", "text"),
    [
        ("The fee was five thousand dollars.", "The fee was 5,000 dollars."),
        ("The fee was 1,000 dollars.", "The fee was 1000 dollars."),
        ("The fee was 1.5 million dollars.", "The fee was $1,500,000."),
        ("She calls him every week.", "She called him every week."),
        ("A thirty-day ceasefire was proposed.", "A 30-day ceasefire was proposed."),
    ],
)
def test_numbers_and_word_forms_are_normalised(claim: str, text: str) -> None:
    assert check_claim(claim, text).supported


def test_empty_inputs_are_unsupported_with_a_reason() -> None:
    assert check_claim("", "Some text.").reason == "the claim is empty"
    assert not check_claim("Ratcliffe called.", "").supported
    assert premise_gaps("", "Some text.") == ()


def test_an_acronym_is_stated_by_the_name_it_abbreviates() -> None:
    officer = "Rebekah Koffler, a former Defense Intelligence Agency officer, doubts it."
    assert premise_gaps("Which former DIA officer doubts it?", officer) == ()
    spelt = "Denver won the National Football League title in 2015."
    assert premise_gaps("Who won the NFL title in 2015?", spelt) == ()
    assert check_claim("Denver won the NFL title in 2015.", spelt).supported
    # the letters must be a name's initials in the text, not any words'
    assert "NFL" in premise_gaps("Who won the NFL title?", "Denver won the league title.")
    assert "V&A" in premise_gaps("When did the V&A open?", "The Louvre opened in 1793.")


def test_a_describing_nationality_the_text_gives_otherwise_is_a_gap() -> None:
    mayow = (
        "English chemist John Mayow refined this work by showing that fire requires only a part"
        " of air that he called spiritus nitroaereus."
    )
    assert "French" in premise_gaps("What French chemist showed that fire needs air?", mayow)
    assert premise_gaps("What English chemist showed that fire needs air?", mayow) == ()
    # a nationality the text gives no other noun for stays a plain word ("Five Eyes" case)
    assert premise_gaps("Which Russian director initiated the call?", RATCLIFFE) == ()


def test_a_hyphen_in_the_question_matches_a_dash_in_the_passage():
    passage = "The Panthers became one of only six teams to have gone 15–1 in a season."
    assert premise_gaps("How many teams have gone 15-1 in one season?", passage) == ()
    assert premise_gaps("How many teams have gone 16-1 in one season?", passage) == ("16",)


def test_a_claim_with_a_hyphen_is_stated_by_a_dash():
    cited = "The Panthers went 15–1 in the regular season."
    assert check_claim("The Panthers went 15-1 in the regular season.", cited).supported
    assert not check_claim("The Panthers went 14-2 in the regular season.", cited).supported


def test_a_pair_referred_back_to_is_no_premise_but_another_count_is() -> None:
    text = (
        "The CIA and the SVR could set up joint crisis response teams."
        " Officials in Moscow and Washington hope to calm tensions."
    )
    assert premise_gaps("What joint mechanisms could the two agencies establish?", text) == ()
    assert premise_gaps("Which two capitals hope to calm tensions?", text) == ()
    # a count the text does not give stays a gap ("the three agencies" is a false premise)
    assert premise_gaps("What joint mechanisms could the three agencies establish?", text) == (
        "three",
    )
