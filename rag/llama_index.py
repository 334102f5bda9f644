"""rag as a llama-index component: the hybrid retriever as a `BaseRetriever`, and a query engine over it.

    from llama_index.core.query_engine import CitationQueryEngine
    from llama_index.llms.openai_like import OpenAILike
    from rag.llama_index import RagRetriever

    retriever = RagRetriever(top_k=5)                   # the default assistant (settings from RAG_* env)
    llm = OpenAILike(model="qwen2.5:0.5b", api_base="http://127.0.0.1:11434/v1", api_key="none", is_chat_model=True)
    engine = CitationQueryEngine(retriever=retriever, llm=llm)
    response = engine.query("What attack success rate do the NTK-designed poisons reach?")
    for node in response.source_nodes:
        print(node.metadata["paper_id"], node.metadata["title"], node.score)

Each retrieved paper is one `NodeWithScore` (the retriever ranks papers, best first): the node's text
is the paper's best-matching retrieved passage (abstract sentences, or the listing metadata when
only that matched), its score the fused hybrid score, and its metadata the paper's `paper_id`,
`title`, `authors` (joined with "; "), `span` ([start, end) of the passage in the abstract, or None),
`page` and `pages` (listing pages), `tier` (the presentation: oral, spotlight, poster), `award`,
`session` and `rank`. Ids and offsets are kept out of the text the LLM and embedders see.

This module imports llama-index on import; `import rag` does not import it.
"""
from __future__ import annotations

from typing import Any

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from .settings import Settings
from .types import Hit

# Metadata for code, not for the model's or an embedder's reading.
_HIDDEN = ["paper_id", "span", "rank", "pages", "chunk_id", "kind"]


def hit_to_node(hit: Hit) -> NodeWithScore:
    """One retrieved paper as a llama-index node: its best passage's text, the paper's metadata, the fused score."""
    passage = next((p for p in hit.passages if p.kind != "metadata" and p.span is not None), None) \
        or (hit.passages[0] if hit.passages else None)
    paper = hit.paper
    text = passage.text if passage is not None else paper.abstract
    metadata: dict[str, Any] = {
        "paper_id": hit.paper_id, "title": hit.title, "authors": "; ".join(paper.authors),
        "span": list(passage.span) if passage is not None and passage.span else None,
        "page": paper.pages[0] if paper.pages else None, "pages": list(paper.pages),
        "tier": paper.presentation, "award": paper.award, "session": paper.session, "rank": hit.rank,
        "chunk_id": passage.chunk_id if passage is not None else None, "kind": passage.kind if passage is not None else "abstract",
    }
    node = TextNode(id_=(passage.chunk_id if passage is not None else hit.paper_id), text=text, metadata=metadata,
                    excluded_llm_metadata_keys=list(_HIDDEN), excluded_embed_metadata_keys=list(_HIDDEN))
    return NodeWithScore(node=node, score=float(hit.score))


class RagRetriever(BaseRetriever):
    """The assistant's hybrid retriever (BM25 + MiniLM, fused) as a llama-index retriever of papers.

    `RagRetriever()` uses the default assistant (rag.ask's, settings from the environment);
    `RagRetriever(assistant, top_k=8, retriever="bm25", filters={"award": "Outstanding"})` another
    one. `options` are per-call settings and filters, as for `Assistant.search`.
    """

    def __init__(self, assistant: Any = None, top_k: int | None = None, callback_manager: Any = None, **options: Any):
        if assistant is None:
            from .assistant import default_assistant

            assistant = default_assistant()
        self.assistant = assistant
        self.top_k = top_k or assistant.settings.top_k
        self.options = options
        super().__init__(callback_manager=callback_manager)

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        hits = self.assistant.search(query_bundle.query_str, k=self.top_k, **self.options)
        return [hit_to_node(h) for h in hits]


def query_engine(llm: Any = None, retriever: RagRetriever | None = None, citations: bool = True,
                 settings: Settings | None = None, **kwargs: Any) -> Any:
    """A llama-index query engine over `retriever` (default `RagRetriever()`), answering with `llm`.

    `citations` True: llama-index's `CitationQueryEngine` (its own [n] citations over the retrieved
    nodes); False: a plain `RetrieverQueryEngine`. `llm` None: the OpenAI-compatible server of the
    settings (llm_backend=openai, llm_base_url, llm_model); llama-index's global default (a cloud
    model) is never used. `kwargs` go to the engine (e.g. response_mode, citation_chunk_size).
    """
    from .errors import SettingsError

    retriever = retriever or RagRetriever()
    if llm is None:
        s = settings or retriever.assistant.settings
        if getattr(retriever.assistant, "llm", None) is not None:
            llm = retriever.assistant.llm
        elif s.llm_backend == "openai":
            from .server_backend import server_llm

            llm = server_llm(s)
        else:
            raise SettingsError("query_engine needs a llama-index LLM: pass llm=..., or set llm_backend=openai with "
                                "llm_base_url and llm_model for a local server")
    if citations:
        from llama_index.core.query_engine import CitationQueryEngine

        return CitationQueryEngine(retriever=retriever, llm=llm, **kwargs)
    from llama_index.core.query_engine import RetrieverQueryEngine

    return RetrieverQueryEngine.from_args(retriever, llm=llm, **kwargs)


__all__ = ["RagRetriever", "hit_to_node", "query_engine"]
