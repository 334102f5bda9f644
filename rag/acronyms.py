"""Acronyms written out where the collection writes only the long form: "best EER?" -> "best equal error rate?".

An asker writes "EER", "MCTS" or "ERM"; an abstract writes "equal error rate", "Monte Carlo tree
search", "empirical risk minimization". BM25 finds no "eer" in any abstract, and the answerability
signals read it as a topic the collection lacks, so an answerable question is refused. An acronym is
written out only where **no paper writes it** and **some paper writes its long form**: an acronym the
collection uses itself ("NTK", "GNN") stays as written (its papers match it), and one whose long form
no paper holds ("RLHF") stays unknown, so an absent topic is not turned into words the collection
has ("reinforcement learning").

The long forms are ML_ACRONYMS: common ML acronyms with one meaning in ML writing (ambiguous ones
such as "ASR", automatic speech recognition or attack success rate, and "MAE" are left out; so are
two-letter ones, "GP", "BO", "FL"). A collection's own definitions, "long form (ACRO)", cannot help
here: a collection that defines an acronym writes it, so its papers match it already.

Purely lexical; built once per opened index (rag.listings.Listings.acronyms), a few milliseconds.

    >>> a = Acronyms(["We report the equal error rate on VoxCeleb.", "Monte Carlo tree search (MCTS) guides it."])
    >>> a.expand("best EER they report?"), a.expand("MCTS or beam search?"), a.expand("did they use RLHF?")
    ('best equal error rate they report?', 'MCTS or beam search?', 'did they use RLHF?')
"""
from __future__ import annotations

import re
from typing import Iterable

# Common ML acronyms, each with the long form ML abstracts write (variants as a tuple, the first one the
# collection writes is used). Three letters or more: two-letter ones ("GP", "BO", "FL") mean too much.
ML_ACRONYMS: dict[str, tuple[str, ...]] = {
    "EER": ("equal error rate",), "MCTS": ("Monte Carlo tree search",), "ERM": ("empirical risk minimization",),
    "NLU": ("natural language understanding",), "NLG": ("natural language generation",),
    "NLI": ("natural language inference",), "NLP": ("natural language processing",),
    "MLE": ("maximum likelihood estimation",), "SGD": ("stochastic gradient descent",),
    "GAN": ("generative adversarial network",), "VAE": ("variational autoencoder", "variational auto-encoder"),
    "RNN": ("recurrent neural network",), "CNN": ("convolutional neural network",), "GNN": ("graph neural network",),
    "GCN": ("graph convolutional network",), "GAT": ("graph attention network",), "LSTM": ("long short-term memory",),
    "MLP": ("multilayer perceptron", "multi-layer perceptron"), "NTK": ("neural tangent kernel",),
    "PDE": ("partial differential equation",), "ODE": ("ordinary differential equation",),
    "SDE": ("stochastic differential equation",), "RLHF": ("reinforcement learning from human feedback",),
    "OOD": ("out-of-distribution",), "NAS": ("neural architecture search",),
    "NMT": ("neural machine translation",), "TTS": ("text-to-speech",), "WER": ("word error rate",),
    "FID": ("Fréchet inception distance", "Frechet inception distance"), "MSE": ("mean squared error", "mean square error"),
    "RMSE": ("root mean squared error", "root mean square error"), "SVM": ("support vector machine",),
    "PCA": ("principal component analysis",), "ICA": ("independent component analysis",),
    "HMM": ("hidden Markov model",), "MDP": ("Markov decision process",),
    "POMDP": ("partially observable Markov decision process",), "MARL": ("multi-agent reinforcement learning",),
    "DRL": ("deep reinforcement learning",), "LLM": ("large language model",), "VLM": ("vision-language model",),
    "SNN": ("spiking neural network",), "NeRF": ("neural radiance field",), "INR": ("implicit neural representation",),
    "SDF": ("signed distance function", "signed distance field"), "MoE": ("mixture of experts", "mixture-of-experts"),
    "LoRA": ("low-rank adaptation",), "PEFT": ("parameter-efficient fine-tuning",), "CoT": ("chain of thought", "chain-of-thought"),
    "ICL": ("in-context learning",), "RAG": ("retrieval-augmented generation",), "VQA": ("visual question answering",),
    "OCR": ("optical character recognition",), "NER": ("named entity recognition",),
    "DDPM": ("denoising diffusion probabilistic model",), "PPO": ("proximal policy optimization",),
    "DQN": ("deep Q-network",), "IRL": ("inverse reinforcement learning",), "HPO": ("hyperparameter optimization",),
    "GBDT": ("gradient boosted decision tree", "gradient-boosted decision tree"), "ViT": ("vision transformer",),
    "kNN": ("k-nearest neighbor", "nearest neighbor"), "KNN": ("k-nearest neighbor", "nearest neighbor"),
}
# An acronym as an asker types it: two or more capitals, maybe a lowercase letter or a plural "s"
# ("MCTS", "NeRF", "ViTs", "kNN"); not a capitalized word ("Which").
_ACRONYM = re.compile(r"(?<![\w\-])((?:[A-Z][a-z]?){1,5}[A-Z]|k[A-Z]{2,3})(s?)(?![\w\-])")
_WORD = re.compile(r"[A-Za-z0-9]+")


def _norm(text: str) -> list[str]:
    """Lowercased words, hyphens as breaks, a plural 's' folded (as the question validator matches)."""
    return [w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w for w in _WORD.findall(text.lower())]


class Acronyms:
    """The acronyms of a collection's questions that its papers write only in full."""

    def __init__(self, texts: Iterable[str]):
        self._vocab: set[str] = set()
        joined: list[str] = []
        for text in texts:
            tokens = _norm(text)
            self._vocab.update(tokens)
            joined.append(" ".join(tokens))
        self._text = " " + " | ".join(joined) + " "

    def _written(self, phrase: str) -> bool:
        words = " ".join(_norm(phrase))
        return bool(words) and f" {words} " in self._text

    def long_form_of(self, acronym: str) -> str | None:
        """The long form to write for `acronym` ("EER" -> "equal error rate"), or None where the
        collection writes the acronym itself or none of its long forms."""
        if not acronym or " ".join(_norm(acronym)) in self._vocab:
            return None
        return next((f for f in ML_ACRONYMS.get(acronym, ()) if self._written(f)), None)

    def expand(self, text: str) -> str:
        """`text` with each acronym that only its long form represents in the collection written out."""
        def write_out(m: re.Match) -> str:
            found = self.long_form_of(m.group(1))
            if found is None:
                return m.group(0)
            return found + ("s" if m.group(2) else "")

        return _ACRONYM.sub(write_out, text)


__all__ = ["Acronyms", "ML_ACRONYMS"]
