"""Chat shorthand, written out: "how many params", "sota acc on imgs w/o labels".

People type questions the way they chat. An abstract says "parameters", "state-of-the-art" and
"images", so BM25 cannot match the clipped forms, and the answerability decision reads "params" or
"imgs" as a topic the collection lacks. Each entry here is a clipping that ML abstracts write out and
that means one thing in ML chat; acronyms the abstracts use themselves (RL, NLP, LLM, GNN, ViT) are
left alone ("LM" is written out: abstracts name "language models" first and the acronym after), as
are ambiguous clippings ("ppl": people or perplexity; "gen": generation or generalization; "diff":
difference or diffusion). Filler words ("tbh", "btw", "pls") are question words
(rag.coverage.QUESTION_WORDS): they ask nothing. Applied with `correct_typos`, before the speller
(rag.listings.Listings.written), to what `ask` retrieves with, judges and quotes from, and to
`search` queries.

    >>> expand("any sota lib w/ fewer params for seg on imgs w/o labels?")
    'any state-of-the-art library with fewer parameters for segmentation on images without labels?'
    >>> expand("What does PARAMS-Net do?"), expand("acc. of ViT")
    ('What does PARAMS-Net do?', 'accuracy. of ViT')
"""
from __future__ import annotations

import re

SHORTHAND = {
    "params": "parameters", "param": "parameter", "hparams": "hyperparameters", "hyperparams": "hyperparameters",
    "hparam": "hyperparameter", "hyperparam": "hyperparameter", "imgs": "images", "img": "image", "vids": "videos",
    "vid": "video", "lib": "library", "libs": "libraries", "repo": "code repository", "repos": "code repositories",
    "sota": "state-of-the-art", "acc": "accuracy", "perf": "performance", "eval": "evaluation", "evals": "evaluations",
    "seg": "segmentation", "det": "detection", "arch": "architecture", "archs": "architectures", "lr": "learning rate",
    "bsz": "batch size", "approx": "approximately", "info": "information", "seq": "sequence", "seqs": "sequences",
    "toks": "tokens", "tok": "token", "emb": "embedding", "embs": "embeddings", "nn": "neural network",
    "nns": "neural networks", "dl": "deep learning", "lm": "language model", "lms": "language models",
    "pretrain": "pretraining", "finetune": "fine-tune", "finetuned": "fine-tuned", "finetuning": "fine-tuning",
    "hrs": "hours", "yr": "year", "yrs": "years",
    "recog": "recognition", "feats": "features", "feat": "feature", "rep": "representation", "reps": "representations",
    "convs": "convolutions", "self-sup": "self-supervised", "neg": "negative", "attrs": "attributes", "attr": "attribute",
    "viz": "visualization", "env": "environment", "envs": "environments", "dims": "dimensions", "dim": "dimension",
    "clf": "classifier", "exps": "experiments", "expts": "experiments", "impl": "implementation", "bench": "benchmark",
    "ds": "dataset", "seq2seq": "sequence-to-sequence", "lang": "language", "langs": "languages", "avail": "available",
    "in1k": "ImageNet-1k", "in22k": "ImageNet-22k", "realtime": "real-time", "prev": "previous",
    "aug": "augmentation", "augs": "augmentations", "coref": "coreference", "conv": "convolution",
    "adv": "adversarial", "xformer": "transformer", "xformers": "transformers", "config": "configuration",
    "mins": "minutes", "secs": "seconds",
    "w/": "with", "w/o": "without", "b/c": "because",
}
_LOWERCASE_ONLY = frozenset({"lr", "ds"})  # "LR" is also low-resolution (super-resolution abstracts), "DS" data science
# A whole word, not part of a name ("PARAMS-Net", "lib2", "w/o-aug"); "w/" and "w/o" end in a slash or "o".
_TOKEN = re.compile(r"(?<![\w\-/])(" + "|".join(sorted(map(re.escape, SHORTHAND), key=len, reverse=True)) + r")(?![\w\-/])", re.I)


def expand(text: str) -> str:
    """`text` with each SHORTHAND clipping written out (case-insensitive; other words as written)."""
    def write_out(m: re.Match) -> str:
        word = m.group(1)
        low = word.lower()
        return word if low in _LOWERCASE_ONLY and word != low else SHORTHAND[low]

    return _TOKEN.sub(write_out, text)


__all__ = ["SHORTHAND", "expand"]
