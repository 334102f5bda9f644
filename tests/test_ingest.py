"""Users' own collections: ids and field names kept, merges only for the same paper, streaming
builds in blocks, the progress bar, quiet library logs, and one ONNX export per machine."""
from __future__ import annotations

import json
import logging
import shutil

import numpy as np
import pytest

import rag.index as rindex
from rag import Assistant, Settings
from rag.cli import main
from rag.corpus import load_corpus
from rag.embedding import _model_key, load_embedder, onnx_export_path, resolve_model
from rag.index import build_index, open_index

from .conftest import SMALL, write_jsonl

A, B, C = SMALL


def test_beir_corpus_indexes_as_it_is_and_keeps_its_ids(tmp_path, capsys):
    rows = [{"_id": f"doc-{i}", "title": r["title"], "text": r["abstract"]} for i, r in enumerate(SMALL)]
    corpus = write_jsonl(tmp_path / "corpus.jsonl", rows)
    args = ["--corpus", str(corpus), "--index-dir", str(tmp_path / "index"), "--no-progress"]
    assert main(["search", "memory queue of negatives", "-k", "2", "--json", *args]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["results"][0]["paper_id"] == "doc-1" and out["results"][0]["title"] == B["title"]
    assert main(["ask", "How much cheaper is contrastive training with the memory queue?", "--json", *args]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["citations"] and answer["citations"][0]["paper_id"] == "doc-1"
    assert answer["retrieved"][0]["paper_id"] == "doc-1"


@pytest.mark.parametrize("id_key,text_key", [("id", "abstract"), ("doc_id", "content"), ("paper_id", "summary"), ("_id", "text")])
def test_id_and_abstract_field_names(tmp_path, id_key, text_key):
    f = write_jsonl(tmp_path / "c.jsonl", [{id_key: "p1", "title": A["title"], text_key: A["abstract"]}])
    paper = load_corpus([f]).papers[0]
    assert paper.paper_id == "p1" and paper.abstract == A["abstract"]


def test_fields_named_in_settings_and_csv(tmp_path):
    f = write_jsonl(tmp_path / "c.jsonl", [{"key": "k-7", "title": A["title"], "body": A["abstract"], "abstract": "not this one"}])
    paper = load_corpus([f], id_field="key", abstract_field="body").papers[0]
    assert (paper.paper_id, paper.abstract) == ("k-7", A["abstract"])
    csv_file = tmp_path / "c.csv"
    csv_file.write_text(f'doc_id,title,content\nx1,"{B["title"]}","{B["abstract"]}"\n', encoding="utf-8")
    paper = load_corpus([csv_file]).papers[0]
    assert (paper.paper_id, paper.title, paper.abstract) == ("x1", B["title"], B["abstract"])
    assert Settings(id_field="key", abstract_field="body").abstract_field == "body"


def test_only_the_same_paper_merges_and_every_merge_is_reported(tmp_path):
    rows = [
        {"title": A["title"], "abstract": A["abstract"]},
        {"title": A["title"].upper(), "abstract": A["abstract"].replace(".", " .")},  # same paper, other spelling
        {"title": A["title"], "abstract": "A different study that happens to share the title. Its results differ."},
        {"id": "b", "title": B["title"], "abstract": B["abstract"]},
        {"id": "b", "title": B["title"], "abstract": B["abstract"] + " Extended version.", "authors": ["Grace Hopper"]},
        {"id": "c1", "title": C["title"], "abstract": C["abstract"]},
        {"id": "c2", "title": C["title"], "abstract": C["abstract"]},  # two ids: the user says two records
    ]
    corpus = load_corpus([write_jsonl(tmp_path / "mixed.jsonl", rows)])
    titles = [p.title for p in corpus.papers]
    assert len(corpus) == 5 and titles.count(A["title"]) == 2
    assert len({p.paper_id for p in corpus.papers}) == 5, "same title, other abstract: two papers, two ids"
    assert len(corpus.merges) == 2
    assert any("mixed:2" in m and "same title and abstract" in m for m in corpus.merges)
    assert any("mixed:5" in m and "'b'" in m and "same id" in m for m in corpus.merges)
    assert any("mixed:3" in w and "another abstract" in w for w in corpus.warnings)
    merged_b = next(p for p in corpus.papers if p.paper_id == "b")
    assert merged_b.abstract.endswith("Extended version.") and merged_b.authors == ("Grace Hopper",)


def test_cli_reports_merges_shows_progress_and_no_library_log_lines(tmp_path, capsys):
    rows = [dict(A), dict(A), dict(B)]
    corpus = write_jsonl(tmp_path / "dups.jsonl", rows)
    assert main(["index", "--corpus", str(corpus), "--index-dir", str(tmp_path / "index")]) == 0
    err = capsys.readouterr().err
    assert "merged: dups:2:" in err
    assert "paper" in err and "chunks/s" in err  # the bar: papers with chunks per second
    assert "Building index" not in err and "bm25s" not in err.lower()
    logging.getLogger("bm25s").debug("Building index from tokens")  # as bm25s logs it, after setting DEBUG on itself
    logging.getLogger("chromadb").warning("a chromadb warning")
    assert "Building index" not in capsys.readouterr().err


class _Recording:
    """The real embedder, recording how many texts each call embeds."""

    def __init__(self, inner):
        self.inner, self.calls = inner, []
        self.identity, self.dim, self.max_tokens, self.count_tokens = inner.identity, inner.dim, inner.max_tokens, inner.count_tokens

    def embed(self, texts, progress=None):
        self.calls.append(len(texts))
        return self.inner.embed(texts, progress=progress)


def test_build_streams_in_blocks_with_the_same_result(tmp_path, monkeypatch):
    rows = [{"id": f"p{i}", "title": f"{r['title']} part {i}", "abstract": r["abstract"]} for i, r in enumerate(SMALL * 8)]
    corpus_file = write_jsonl(tmp_path / "twelve.jsonl", rows)
    whole = Settings(corpus=[corpus_file], index_dir=tmp_path / "whole", progress=False)
    corpus = load_corpus(whole.corpus_paths)
    one = _Recording(load_embedder(whole))
    build_index(whole, corpus, lambda: one)
    monkeypatch.setattr(rindex, "BLOCK", 6)
    blocks = whole.with_options(index_dir=tmp_path / "blocks")
    many = _Recording(one.inner)
    events = []
    report = build_index(blocks, corpus, lambda: many, progress=lambda *e: events.append(e))
    assert len(one.calls) == 1 and len(many.calls) >= 4 and max(many.calls) <= 2 * 6
    papers = [d for s, d, t in events if s == "papers"]
    assert papers == sorted(papers) and papers[-1] == 24 and all(t == 24 for s, _, t in events if s == "papers")
    assert [e for e in events if e[0] == "chunks"][-1] == ("chunks", report.chunks, report.chunks)
    a, b = open_index(whole), open_index(blocks)
    assert [c.chunk_id for c in a.chunks] == [c.chunk_id for c in b.chunks]
    # int8 activations are quantized per batch, so other batches move vectors a little, never far.
    va, vb = (dict(zip(g["ids"], np.asarray(g["embeddings"]))) for g in (x.collection.get(include=["embeddings"]) for x in (a, b)))
    assert min(float(va[k] @ vb[k]) for k in va) > 0.99
    a.close(), b.close()
    ra, rb = Assistant(whole), Assistant(blocks)
    for q in ("memory queue of negatives", "molecular property prediction", "sparse attention"):
        # BM25 built once from the streamed token ids: the very same scores
        assert [(h.paper_id, round(h.score, 5)) for h in ra.search(q, k=8, retriever="bm25")] == \
            [(h.paper_id, round(h.score, 5)) for h in rb.search(q, k=8, retriever="bm25")]
    ra.close(), rb.close()


def test_one_onnx_export_per_machine_keyed_by_the_model_files(tmp_path, caplog):
    s1 = Settings(data_dir=tmp_path / "data1")
    s2 = Settings(data_dir=tmp_path / "data2")
    path = onnx_export_path(s1.embed_model, s1.resolved_model_cache_dir)
    assert path == onnx_export_path(s2.embed_model, s2.resolved_model_cache_dir)
    assert not str(path).startswith(str(tmp_path)), "not under the data dir"
    load_embedder(s1)  # exported by now (this run or an earlier one)
    stamp = path.stat().st_mtime_ns
    with caplog.at_level(logging.WARNING, logger="rag.embedding"):
        load_embedder(s2)
    assert path.stat().st_mtime_ns == stamp and "preparing the int8 ONNX" not in caplog.text
    # The key follows the model's files, not their place: a copy shares it, a changed file does not.
    model = resolve_model(s1.embed_model)
    copy = tmp_path / "copy"
    shutil.copytree(model, copy)
    assert _model_key(copy) == _model_key(model)
    (copy / "config.json").write_text((copy / "config.json").read_text() + " ")
    assert _model_key(copy) != _model_key(model)
    assert Settings(model_cache_dir=tmp_path / "mc").resolved_model_cache_dir == tmp_path / "mc"


def test_the_gpu_embedding_path_matches_sentence_transformers_on_the_cpu():
    """TorchEmbedder.embed_fast (the GPU path: own tokenizing, length-sorted batches, pooling) against
    sentence-transformers' encode, both fp32 on the CPU; on a GPU the same code runs in fp16/bf16."""
    from rag.embedding import TorchEmbedder

    texts = [f"{r['title']}. {r['abstract']}" for r in SMALL] + ["a short query", "x " * 300]  # one past the window
    emb = TorchEmbedder("all-MiniLM-L6-v2", device="cpu", batch_size=2)
    ref = emb.embed(texts)
    fast = emb.embed_fast(texts)
    assert fast.shape == ref.shape and emb._fast_ok
    np.testing.assert_allclose((ref * fast).sum(1), 1.0, atol=1e-4)
