"""BEIR-format evaluation: metrics on hand-computed cases, and `rag eval --beir DIR` end to end."""
from __future__ import annotations

import json
import math

import pytest

from eval.beir import load_beir, mrr, ndcg, recall, run_beir
from eval.config import EvalError
from rag import Settings
from rag.cli import main

DOCS = [
    ("d1", "Sparse Attention for Long Documents", "We propose a sparse attention pattern for long documents. It scales linearly with sequence length. Summarization improves by two ROUGE points."),
    ("d2", "Contrastive Pretraining on a Budget", "Contrastive learning needs large batches. A memory queue of negatives cuts the cost. Training is three times cheaper at equal accuracy."),
    ("d3", "Graph Networks for Molecules", "Message passing networks predict molecular properties. The model reaches the state of the art on QM9."),
    ("d4", "Diffusion Models for Audio", "We generate speech and music with a denoising diffusion model. Listeners prefer it over autoregressive baselines."),
    ("d5", "Federated Learning with Canaries", "Canary records inserted into client data measure how much a federated model memorizes. Differential privacy reduces the exposure."),
    ("d6", "Rotation Prediction as Self-Supervision", "A network learns visual features by predicting how an image was rotated. The features transfer to detection."),
    ("d7", "", "Tabular networks regularized with gradient orthogonalization generalize better on small datasets."),
]
QUERIES = {"q1": "linear-cost attention for long texts", "q2": "cheaper contrastive training with a queue of negatives",
           "q3": "predicting molecule properties with message passing", "q4": "self-supervised learning by predicting image rotations",
           "q5": "measuring memorization in federated learning", "q6": "no qrels for this one"}
QRELS = [("q1", "d1", 1), ("q2", "d2", 2), ("q3", "d3", 1), ("q4", "d6", 1), ("q5", "d5", 1), ("q5", "d2", 0)]


def write_beir(folder, docs=DOCS, queries=QUERIES, qrels=QRELS):
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text("".join(json.dumps({"_id": i, "title": t, "text": x}) + "\n" for i, t, x in docs))
    (folder / "queries.jsonl").write_text("".join(json.dumps({"_id": q, "text": t}) + "\n" for q, t in queries.items()))
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t{s}\n" for q, d, s in qrels))
    return folder


def test_metrics_on_hand_computed_cases():
    assert ndcg(["a"], {"a": 1}) == 1.0
    assert ndcg(["x", "a", "b"], {"a": 2, "b": 1}) == pytest.approx((2 / math.log2(3) + 1 / 2) / (2 + 1 / math.log2(3)))
    assert ndcg(["b", "a"], {"a": 2, "b": 1}) < ndcg(["a", "b"], {"a": 2, "b": 1}) == 1.0  # graded, not binary
    assert ndcg(["x"] * 10 + ["a"], {"a": 1}) == 0.0  # past the cut-off
    assert recall(["a", "x"], {"a": 1, "b": 1, "c": 0}, 10) == 0.5  # relevance 0 is not relevant
    assert recall(["x"] * 10 + ["a"], {"a": 1}, 10) == 0.0 and recall(["x"] * 10 + ["a"], {"a": 1}, 100) == 1.0
    assert mrr(["x", "y", "a"], {"a": 1}) == pytest.approx(1 / 3) and mrr(["x"], {"a": 1}) == 0.0


def test_bad_beir_folders_name_the_file(tmp_path):
    with pytest.raises(EvalError, match="corpus.jsonl not found"):
        load_beir(tmp_path)
    folder = write_beir(tmp_path / "b", qrels=QRELS + [("q9", "d1", 1)])
    with pytest.raises(EvalError, match="q9"):
        load_beir(folder)
    _, queries, qrels = load_beir(write_beir(tmp_path / "c"))
    assert set(qrels) == {"q1", "q2", "q3", "q4", "q5"} and qrels["q2"] == {"d2": 2} and len(queries) == 6


def test_rag_eval_beir_scores_every_retriever_beside_plain_bm25(tmp_path, capsys):
    folder = write_beir(tmp_path / "tiny")
    out = tmp_path / "report"
    (out).mkdir()
    (out / "report.md").write_text("# Evaluation report\n\nearlier section\n")
    code = main(["eval", "--beir", str(folder), "--out", str(out), "--quiet", "--index-dir", str(tmp_path / "index"), "--no-progress"])
    assert code == 0
    results = json.loads((out / "results.json").read_text())["beir"]["tiny"]
    assert results["documents"] == 7 and results["queries"] == 5
    assert set(results["runs"]) == {"hybrid", "dense", "bm25", "plain-bm25"}
    for run, m in results["runs"].items():
        assert all(0.0 <= m[k] <= 1.0 for k in ("ndcg@10", "recall@10", "recall@100", "mrr")), (run, m)
        assert m["recall@100"] >= m["recall@10"]
    # Every query paraphrases one document of seven: each retriever finds nearly all of them first.
    assert results["runs"]["hybrid"]["mrr"] >= 0.8 and results["runs"]["plain-bm25"]["recall@10"] == 1.0
    report = (out / "report.md").read_text()
    assert "earlier section" in report and "## BEIR: tiny" in report and "plain-bm25" in report
    # Run again: the section is replaced, not repeated.
    assert main(["eval", "--beir", str(folder), "--out", str(out), "--quiet", "--index-dir", str(tmp_path / "index"), "--no-progress"]) == 0
    assert (out / "report.md").read_text().count("## BEIR: tiny") == 1
    assert "nDCG@10" in capsys.readouterr().out


def test_beir_ids_are_the_paper_ids(tmp_path):
    folder = write_beir(tmp_path / "ids")
    section = run_beir(folder, settings=Settings(index_dir=tmp_path / "index", progress=False), out=tmp_path / "out",
                       say=lambda _: None, progress=False)
    from rag import Assistant

    a = Assistant(Settings(corpus=[folder / "corpus.jsonl"], corpus_name="beir-ids", index_dir=tmp_path / "index", progress=False))
    hits = a.search("self-supervised learning by predicting image rotations", k=3)
    assert hits[0].paper_id == "d6" and hits[0].to_dict()["paper_id"] == "d6"
    untitled = a.loaded_index.papers["d7"]  # an empty BEIR title: the text's first words stand in
    assert untitled.title.startswith("Tabular networks regularized") and untitled.abstract.startswith("Tabular")
    a.close()
    assert section["runs"]["bm25"]["ndcg@10"] > 0.5
