"""What a new user asked the web chat and got wrong before, asked again in Chromium.

The shared `rag serve` of conftest.py over corpus/ with the default backend; each question is
one the chat answered with a headline, a nameless quote or an unsupported claim before the
short-answer reader, the claim check and the premise refusal. Answers must lead with the
short answer and cite it; what the documents do not say must be refused.
"""

from __future__ import annotations

import pytest

from tests.ui.conftest import ask

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.server]


def _short_answer(bubble) -> str:
    """The bubble's "Answer: X [n]" line (the short answer the reply leads with), or ""."""
    lines = bubble.inner_text().splitlines()
    return next(
        (ln.removeprefix("Answer:").strip() for ln in lines if ln.startswith("Answer:")), ""
    )


def test_answers_lead_with_the_name_and_refusals_say_why(page):
    heads = ask(page, "Who heads the CIA?")
    assert "Ratcliffe" in _short_answer(heads), heads.inner_text()
    assert "Ratcliffe" in " ".join(page.locator("#sources mark").all_inner_texts())

    caller = ask(page, "Who initiated the phone call?")
    assert "Ratcliffe" in _short_answer(caller), caller.inner_text()
    assert "2 years: report" not in caller.inner_text()  # the headline is no answer

    for question in (
        "Which Russian official did Trump call?",
        "Who is the deputy director of the CIA?",
        "Which European country hosted the talks?",
        "Where did they meet in person?",
    ):
        bubble = ask(page, question)
        assert bubble.locator(".rag-abstain").count() == 1, (question, bubble.inner_text())
        assert "do not hold the answer" in page.locator("#sources").inner_text()

    alliance = ask(
        page, "What is the name of the alliance of five English-speaking countries mentioned?"
    )
    assert alliance.locator(".rag-abstain").count() == 0, alliance.inner_text()


def test_a_follow_up_is_answered_from_the_conversation(page):
    first = ask(page, "Who is the director of the SVR?")
    assert "Naryshkin" in _short_answer(first), first.inner_text()
    follow = ask(page, "And who was he talking to?")
    assert "Ratcliffe" in _short_answer(follow), follow.inner_text()
