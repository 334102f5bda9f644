"""The baseline a user would write in twenty lines: llama-index VectorStoreIndex over Chroma, same MiniLM.

`build_baseline` is that pipeline (bench/run.py times it; the eval harness scores its retrieval).
Each paper is one Document (title line + abstract), split by llama-index's default SentenceSplitter
and embedded by HuggingFaceEmbedding (which cuts text at MiniLM's 256 word pieces). Its nodes map
back to papers through the `title` metadata (excluded from the embedded text, so the vectors are
those of the plain pipeline).
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import shutil
import time
from pathlib import Path
from typing import Any, Sequence

from rag.corpus import paper_id_for
from rag.types import Paper


def build_baseline(papers: Sequence[Paper], model_dir: str, chroma_dir: Path) -> tuple[Any, float, int]:
    """The user's pipeline; returns (VectorStoreIndex, seconds, nodes)."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings
    from llama_index.core import Document, StorageContext, VectorStoreIndex
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.vector_stores.chroma import ChromaVectorStore

    started = time.perf_counter()
    embed_model = HuggingFaceEmbedding(model_name=model_dir)
    client = chromadb.PersistentClient(path=str(chroma_dir), settings=ChromaSettings(anonymized_telemetry=False))
    collection = client.get_or_create_collection("papers")
    storage = StorageContext.from_defaults(vector_store=ChromaVectorStore(chroma_collection=collection))
    docs = [Document(text=p.title + "\n" + p.abstract, metadata={"title": p.title},
                     excluded_embed_metadata_keys=["title"], excluded_llm_metadata_keys=["title"]) for p in papers]
    index = VectorStoreIndex.from_documents(docs, storage_context=storage, embed_model=embed_model)
    return index, time.perf_counter() - started, collection.count()


def disable_llm() -> None:
    """llama-index defaults to OpenAI for answers; the baseline only retrieves."""
    from llama_index.core import Settings as LlamaSettings

    with contextlib.redirect_stdout(io.StringIO()):  # it prints "LLM is explicitly disabled"
        LlamaSettings.llm = None


class Baseline:
    """The baseline's index, built once per corpus and model and kept under `cache_dir`."""

    def __init__(self, papers: Sequence[Paper], model_dir: str, cache_dir: Path):
        disable_llm()
        digest = hashlib.sha1(model_dir.encode())
        for p in papers:
            digest.update(f"{p.title}\n{p.abstract}\n".encode())
        self.path = Path(cache_dir) / "eval-baseline" / digest.hexdigest()[:12]
        self.build_s: float | None = None
        done = self.path / "COMPLETE"
        if done.exists():  # reuse a finished store; an interrupted build (no marker) starts over
            self.index = self._open(model_dir)
        else:
            shutil.rmtree(self.path, ignore_errors=True)
            self.path.mkdir(parents=True)
            self.index, self.build_s, _ = build_baseline(papers, model_dir, self.path)
            done.write_text("ok\n")
        self._retrievers: dict[int, Any] = {}

    def _open(self, model_dir: str) -> Any:
        import chromadb
        from chromadb.config import Settings as ChromaSettings
        from llama_index.core import VectorStoreIndex
        from llama_index.embeddings.huggingface import HuggingFaceEmbedding
        from llama_index.vector_stores.chroma import ChromaVectorStore

        client = chromadb.PersistentClient(path=str(self.path), settings=ChromaSettings(anonymized_telemetry=False))
        store = ChromaVectorStore(chroma_collection=client.get_or_create_collection("papers"))
        return VectorStoreIndex.from_vector_store(store, embed_model=HuggingFaceEmbedding(model_name=model_dir))

    def ranked(self, question: str, k: int = 10) -> list[str]:
        """Paper ids best first (a paper split into several nodes counts once, at its best node)."""
        retriever = self._retrievers.get(k) or self._retrievers.setdefault(k, self.index.as_retriever(similarity_top_k=k))
        ids = [paper_id_for(n.node.metadata["title"]) for n in retriever.retrieve(question)]
        return list(dict.fromkeys(ids))


__all__ = ["Baseline", "build_baseline", "disable_llm"]
