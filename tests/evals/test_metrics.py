"""Every eval metric on small hand-computed examples."""

from __future__ import annotations

import math

import pytest

from evals import metrics as m


def test_hit_at_k_counts_only_the_first_k():
    ranked = ["a.txt", "b.txt", "c.txt"]
    assert m.hit_at_k(ranked, {"c.txt"}, 3) == 1.0
    assert m.hit_at_k(ranked, {"c.txt"}, 2) == 0.0
    assert m.hit_at_k(ranked, set(), 5) is None


def test_recall_at_k_is_the_share_of_expected_found():
    ranked = ["a", "b", "c", "d"]
    assert m.recall_at_k(ranked, {"b", "d", "z"}, 4) == pytest.approx(2 / 3)
    assert m.recall_at_k(ranked, {"b", "d"}, 2) == 0.5
    assert m.recall_at_k(ranked, [], 2) is None


def test_reciprocal_rank_and_mrr():
    assert m.reciprocal_rank(["x", "y", "a"], {"a"}) == pytest.approx(1 / 3)
    assert m.reciprocal_rank(["a", "y"], {"a", "y"}) == 1.0
    assert m.reciprocal_rank(["x", "y", "a"], {"a"}, k=2) == 0.0
    # MRR over three queries: ranks 1, 2 and none -> (1 + 0.5 + 0) / 3
    assert m.mean([1.0, 0.5, 0.0]) == pytest.approx(0.5)


def test_dedupe_keeps_the_best_rank_of_each_document():
    assert m.dedupe(["b", "a", "b", "c", "a"]) == ["b", "a", "c"]


def test_ndcg_binary_and_graded():
    # one relevant doc at rank 2: DCG = 1/log2(3), IDCG = 1
    assert m.ndcg_at_k(["x", "a"], {"a": 1}, 10) == pytest.approx(1 / math.log2(3))
    # graded: a=2 at rank 1, b=1 at rank 3; ideal is a, b at ranks 1, 2
    dcg = 2 / math.log2(2) + 1 / math.log2(4)
    idcg = 2 / math.log2(2) + 1 / math.log2(3)
    assert m.ndcg_at_k(["a", "x", "b"], {"a": 2, "b": 1}, 10) == pytest.approx(dcg / idcg)
    assert m.ndcg_at_k(["a", "b"], {"a": 1, "b": 1}, 10) == pytest.approx(1.0)
    assert m.ndcg_at_k(["x", "y", "a"], {"a": 1}, 2) == 0.0
    assert m.ndcg_at_k(["a"], {}, 10) == 0.0


def test_answer_accuracy_is_case_insensitive_containment():
    assert m.answer_correct("The SVR is led by Sergey NARYSHKIN [1].", ["Naryshkin"])
    assert m.answer_correct("Russia\u2019s spy chief", ["russia's spy"])
    assert not m.answer_correct("I could not find this in the documents.", ["Naryshkin"])
    assert m.answer_correct("a 30-day   ceasefire", ["30-day ceasefire"])


def test_squad_normalisation_and_token_f1():
    assert m.normalize_answer("The  Cat, sat!") == "cat sat"
    # pred "sergey naryshkin heads svr" vs ref "naryshkin": p=1/4, r=1 -> f1 = 0.4
    assert m.token_f1("Sergey Naryshkin heads the SVR.", "Naryshkin") == pytest.approx(0.4)
    assert m.token_f1("Naryshkin", "the Naryshkin") == 1.0
    assert m.token_f1("Ratcliffe", "Naryshkin") == 0.0
    # repeated tokens count only as often as they are shared: pred a a b, ref a b b
    assert m.token_f1("a a b", "a b b") == pytest.approx(2 / 3)
    assert m.best_token_f1("Denver Broncos", ["Broncos", "Denver Broncos"]) == 1.0
    assert m.best_token_f1("x", []) is None


def test_citation_precision_and_validity():
    assert m.citation_precision(["a.txt", "b.txt", "a.txt", "c.txt"], {"a.txt"}) == 0.5
    assert m.citation_precision([], {"a.txt"}) is None
    assert m.citation_precision(["a.txt"], set()) is None
    assert m.citation_validity([True, False, True, True]) == 0.75
    assert m.citation_validity([]) is None


def test_groundedness_is_the_share_of_supported_sentences():
    assert m.groundedness([True, True, False]) == pytest.approx(2 / 3)
    assert m.groundedness([]) is None


def test_abstention_precision_and_recall():
    abstained = [True, True, False, False, True]
    unanswerable = [True, False, True, False, True]
    # refused 3, of which 2 unanswerable -> precision 2/3; 3 unanswerable, 2 refused -> 2/3
    precision, recall = m.abstention_scores(abstained, unanswerable)
    assert precision == pytest.approx(2 / 3)
    assert recall == pytest.approx(2 / 3)
    assert m.abstention_scores([False, False], [True, False]) == (None, 0.0)
    assert m.abstention_scores([True], [True]) == (1.0, 1.0)
    with pytest.raises(ValueError):
        m.abstention_scores([True], [True, False])


def test_percentiles_interpolate_linearly():
    values = [10.0, 20.0, 30.0, 40.0]
    assert m.percentile(values, 50) == 25.0
    assert m.percentile(values, 95) == pytest.approx(38.5)
    assert m.percentile([7.0], 95) == 7.0
    assert m.percentile([], 50) is None


def test_mean_skips_undefined_values():
    assert m.mean([1.0, None, 0.0]) == 0.5
    assert m.mean([None]) is None
