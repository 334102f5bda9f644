"""Follow-up questions: earlier turns of a chat shape the retrieval query of the next one.

    from rag.conversation import retrieval_query
    retrieval_query("What dataset did they use?", [earlier_answer])
    # -> "What dataset did they use? | What attack success rate ...? | Few-shot Backdoor Attacks via Neural Tangent Kernels"

A question that leans on earlier turns ("it", "they", "that paper", "what about ...", or too few
content words to stand alone, like "Which datasets?") is retrieved together with the previous
question and the titles of the papers the chat cited most recently, so the retrievers find the
paper the user is talking about. A self-contained question is left alone: the previous paper must
not crowd out a new topic. Only retrieval uses this; the answer is written for the user's words.

History items (oldest first) may be `Answer` objects (they carry their question and citations),
`(question, answer)` pairs whose answer is an `Answer`, a dict or text, or dicts with "question"
and "citations" ([{"title": ...}]) or "titles" — the JSON of `Answer.to_dict()` works as is.
Pure functions, no model and no index: cheap enough to run on every question.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

from .errors import QuestionError

# Turns looked back through for the papers being talked about.
LOOKBACK = 3
# Titles added to the query at most (the most recently cited first).
MAX_TITLES = 3
# A question with at most this many content words and no name in it cannot stand alone.
MAX_BARE_WORDS = 1
# A short question with no reference word continues the chat when it stays on the earlier answer's
# papers: "error rate on MNIST?", "how much faster than GLaM?", "any application to stock markets?",
# "imagenet top-1?". The follow-up model file's resolution head decides on the question's `Fit`
# (rag.answer_model.ResolutionHead; eval.train_followup); without one, this hand-set rule
# (`stays_on`), which the head's threshold matches in self-contained questions taken for follow-ups.
# Up to ELLIPTIC_WORDS words it stays when it brings at most NEW_TERMS
# rare terms those papers lack (not for keywords alone: "diffusion models" is a search) or when no other
# paper fits it better by FIT_MARGIN or more (the question's cosine to the best passage anywhere minus
# to theirs); up to LONG_WORDS words, only when their passage is the best fit of all. Chosen on the four
# dev follow-up sets (eval/questions/followups/, 395 follow-ups resolved by the earlier answer) against
# 678 self-contained dev questions, each asked after a random earlier answer: 339 follow-ups taken as
# about the earlier paper (reference words alone, the previous release: 193), and 9 of the 678 (the
# previous release: 6), 5 of them with a pronoun of their own ("... did they extend it to video?") and
# 2 or 3 asked after an answer about their own paper.
ELLIPTIC_WORDS = 10
LONG_WORDS = 20
NEW_TERMS = 1
FIT_MARGIN = 0.10

_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’\-]*")
# Pronouns that point back at something said before.
_PRONOUNS = frozenset("they them their theirs its he she his her hers him".split())
# "it" is also a dummy subject ("is it possible", "makes it cheaper"): it counts only in short questions.
_WEAK_PRONOUNS = frozenset({"it", "it's", "it’s"})
# "does it", "did it" ... point back, unless "is it possible/true ...".
_AUXILIARIES = frozenset("does did do is was can could would will has had".split())
_DUMMY_IT = frozenset("possible true necessary feasible better worth known the a an".split())
# A question that asks for papers on a topic starts a new search, however short.
# "Which papers ...", "List all the neural process papers here", "any other work on ...": a new search. After "which" or
# "what" one word at most ("what datasets did the papers use?" asks about papers already found); after the others up
# to three, none of them a preposition ("any code for the work?") or a word that points back ("all of their papers").
_PAPERS = r"(papers?|works?|studies|articles?|posters?)\b"
_NEW_SEARCH = re.compile(rf"\b(which|what)\s+([\w-]+\s+)?{_PAPERS}"
                         rf"|\b(any|all|list|find|show|some|other)\s+((?!(their|its|these|those|this|that|same|above|of|for|in|on|from|by|with|about)\b)[\w-]+\s+){{0,3}}{_PAPERS}"
                         r"|^\s*(papers?|works?|studies)\s+(about|on|that|using|with)\b", re.I)
# "this" or "that" as the subject after an auxiliary ("does that hold for EEG?", "how does this compare?") points back.
_DEMONSTRATIVES = frozenset({"this", "that"})
# "this/that/these/those/the same/the above" + one of these nouns points back too ("that method").
_DETERMINERS = frozenset("this that these those same above former latter previous aforementioned said".split())
_REFERENT_NOUNS = frozenset("""
paper papers work works method methods model models approach approaches technique techniques study studies
one ones result results dataset datasets benchmark benchmarks algorithm algorithms framework frameworks
architecture architectures idea ideas system systems attack attacks defense defenses author authors
experiment experiments setting settings task tasks network networks loss article articles
""".split())
# Spoken fillers ("okay and which benchmarks", "um does it need ..."): they say nothing, here and in
# rag.coverage's QUESTION_WORDS.
SPOKEN_FILLERS = frozenset("okay ok um umm uh uhh hmm erm er oh ah yeah alright".split())
# ... as they open a follow-up, with "well" and "so", and drawn-out ("ummm"):
_FILLERS = r"(?:(?:okay|ok|um+|uh+|hmm+|erm|er|oh|ah|yeah|alright|well|so)\b[\s,.]*)*"
# Openers of a follow-up ("what about robustness?", "and the code?", "tell me more").
_OPENERS = re.compile(rf"^\s*{_FILLERS}(?:(what|how)\s+about\b|(and|also|so)\b|tell\s+me\s+more\b|(more|anything)\s+else\b"
                      r"|what\s+else\b|(why|how)\s*\??\s*$)", re.I)
# A comparison or extension with its first term left out ("compared with LoRA?", "vs SimCLR?", "same
# for vision transformers?", "better than CNNs?"): the left-out term is the earlier answer's paper.
_ELLIPTIC = re.compile(rf"^\s*{_FILLERS}(?:and\s+)?(?:the\s+)?(?:same\s+(?:for|with|on|in|goes|thing)|compared?\s+(?:with|to|against)"
                       r"|vs\.?\s|versus\b|(?:any\s+)?(?:better|worse)\s+than\b|relative\s+to\b|against\b)", re.I)
# Words that carry no topic of their own.
_STOP = frozenset("""
a an the of in on for to from by with without at as into over under and or but not no nor if so than then
what which who whom whose how why when where whether is are was were be been being do does did done has have had
can could would should will shall may might must there here about also more most some any all each other such
very just only own same i me my we our you your it its it's they them their this that these those
paper papers work study use used uses using show shows report reported get got much many kind tell give
well
""".split()) | SPOKEN_FILLERS


@dataclass(frozen=True)
class Turn:
    """One earlier turn, reduced to what retrieval needs."""

    question: str
    titles: tuple[str, ...] = ()


def _titles_of(answer: Any) -> tuple[str, ...]:
    if answer is None or isinstance(answer, str):
        return ()
    if isinstance(answer, dict):
        if answer.get("abstained"):
            return ()
        cited = answer.get("titles") or [c.get("title") for c in answer.get("citations") or () if isinstance(c, dict)]
        return tuple(str(t) for t in cited if t)
    if getattr(answer, "abstained", False):
        return ()
    return tuple(c.title for c in getattr(answer, "citations", ()) or ())


def to_turn(item: Any) -> Turn | None:
    """A history item as a Turn; None for an item that says nothing usable (e.g. an empty question)."""
    if isinstance(item, Turn):
        return item
    if isinstance(item, (tuple, list)) and len(item) == 2:
        question, answer = item
    elif isinstance(item, dict):
        question, answer = item.get("question"), item
    elif hasattr(item, "question") and hasattr(item, "citations"):  # an Answer
        question, answer = item.question, item
    else:
        raise QuestionError(f"a history item must be an Answer, a (question, answer) pair or a dict with 'question'; got {type(item).__name__}")
    question = " ".join(str(question or "").split())
    titles = tuple(dict.fromkeys(_titles_of(answer)))
    return Turn(question, titles) if question or titles else None


def content_words(question: str) -> list[str]:
    """The question's words that carry a topic (stop words and question words removed)."""
    return [w for w in _WORD.findall(question) if _is_content(w)]


def _is_content(word: str) -> bool:
    return word.lower() not in _STOP and len(word) > 1


def _is_name(word: str, position: int) -> bool:
    """An acronym, CamelCase, a digit, or a capitalized word inside the sentence: a specific term."""
    return (any(ch.isdigit() for ch in word) or bool(re.search(r"[a-z][A-Z]|[A-Z]{2}", word))
            or (position > 0 and word[0].isupper() and word.lower() not in _STOP))


def _first_reference(words: list[str]) -> int | None:
    """Position of the first word that points back ("they", "does it", "that method"), or None; 0
    for a comparison that leaves its first term out ("compared with LoRA?", `_ELLIPTIC`)."""
    if _ELLIPTIC.match(" ".join(words)):
        return 0
    lower = [w.lower() for w in words]
    content = sum(_is_content(w) for w in words)
    for i, w in enumerate(lower):
        nxt = lower[i + 1] if i + 1 < len(lower) else None
        if w in _PRONOUNS:
            return i
        if w in _WEAK_PRONOUNS and ((i > 0 and lower[i - 1] in _AUXILIARIES and nxt not in _DUMMY_IT) or content <= 4):
            return i
        if w in _DETERMINERS and (nxt in _REFERENT_NOUNS or nxt is None):
            return i
        if w in _DEMONSTRATIVES and i > 0 and lower[i - 1] in _AUXILIARIES:  # "does that hold for EEG?", "is this better?"
            return i
    return None


def _points_back(question: str, words: list[str]) -> bool | None:
    """True when a reference word ("they", "does it", "that method") points at an earlier turn, False
    when it points inside the question, None when there is no reference word."""
    ref = _first_reference(words)
    if ref is None:
        return None
    before = [(w, i) for i, w in enumerate(words[:ref]) if _is_content(w)]
    # "Who is the first author of the Othello paper, and what was its poster number?": the
    # pronoun points inside the question when a name or three topic words come before it.
    antecedent = len(before) >= 3 or any(_is_name(w, i) for w, i in before)
    # "Which papers have simplicity bias as their main topic?": "their" is the papers searched for.
    antecedent = antecedent or (words[ref].lower() in {"its", "their"} and bool(_NEW_SEARCH.search(question)))
    return not antecedent


def needs_context(question: str) -> bool:
    """True when the question leans on earlier turns: a pronoun or "that method" with nothing in the
    question it could point at, a follow-up opener ("what about ..."), or too few words to stand alone.

    >>> [needs_context(q) for q in ("What dataset did they use?", "Which datasets?", "What about its robustness?")]
    [True, True, True]
    >>> [needs_context(q) for q in ("What is GraphMAE?", "Which papers are about diffusion?",
    ...                             "What accuracy does Sequencer2D-L reach and how many parameters does it have?")]
    [False, False, False]
    """
    words = _WORD.findall(question)
    if not words:
        return False
    if _OPENERS.search(question):
        return True
    back = _points_back(question, words)
    if back is not None:
        return back
    if _NEW_SEARCH.search(question):  # "Which papers are about diffusion?" starts a new topic
        return False
    content = [(w, i) for i, w in enumerate(words) if _is_content(w)]
    # "Which datasets?" cannot stand alone; "What is GraphMAE?" and "What is contrastive learning?" can.
    return not content or (len(content) <= MAX_BARE_WORDS and not any(_is_name(w, i) for w, i in content))


def turns(history: Iterable[Any] | None) -> list[Turn]:
    """History items as Turns, oldest first (unusable items dropped)."""
    return [t for t in (to_turn(item) for item in history or ()) if t is not None]


def referent_titles(question: str, history: Sequence[Any] | None, bare: bool = False,
                    stays: Callable[[tuple[str, ...]], bool] | None = None) -> tuple[str, ...]:
    """The papers a follow-up points back at with a reference word ("Does it also work on speech?",
    "Which of them use transformers?"): every title the most recent turn that cited papers cited;
    () when the question has no such word, or no earlier turn cited a paper. The Assistant answers
    such a follow-up from those papers only, so a new word in it cannot pull in another paper.

    >>> referent_titles("Who wrote it?", [("What does PIXEL reconstruct?", {"titles": ["Language Modelling with Pixels"]})])
    ('Language Modelling with Pixels',)
    >>> referent_titles("What about robustness?", [("What does PIXEL reconstruct?", {"titles": ["Language Modelling with Pixels"]})])
    ()

    `bare`: a question that leans on earlier turns without a reference word counts too (the caller's
    call: "Who are the authors?" is about the earlier paper, "What about robustness?" need not be).
    `stays(titles)`: whether a short question (`candidate`) with no reference word stays on those papers
    (the caller's index knows: a `Fit`, judged by the follow-up model's resolution head or `stays_on`);
    with it, such a question continues the chat.
    """
    past = turns(history)
    if not past:
        return ()
    titles = next((turn.titles for turn in reversed(past[-LOOKBACK:]) if turn.titles), ())
    if not titles:
        return ()
    if _points_back(question, _WORD.findall(question)) or (bare and needs_context(question)):
        return titles
    return titles if stays is not None and candidate(question) and stays(titles) else ()


def candidate(question: str) -> bool:
    """Short enough (LONG_WORDS) to lean on the chat without a reference word, and not a new search.

    >>> [candidate(q) for q in ("error rate on MNIST?", "imagenet top-1?", "Which papers are about diffusion?")]
    [True, True, False]
    """
    words = _WORD.findall(question)
    return 0 < len(words) <= LONG_WORDS and not _NEW_SEARCH.search(question)


@dataclass(frozen=True)
class Fit:
    """How a `candidate` question fits the earlier answer's papers, measured on the caller's index."""

    words: int
    function_word: bool  # False: keywords alone ("diffusion models", "imagenet top-1?")
    new_terms: int  # salient (rare) terms of the question none of those papers holds
    best_cosine: float  # the question's cosine to the best passage of the collection
    their_cosine: float  # ... to the best passage of those papers

    @property
    def margin(self) -> float:
        return self.best_cosine - self.their_cosine

    def features(self) -> dict[str, float]:
        """What the resolution head reads (rag.answer_model.RESOLUTION_FEATURES)."""
        return {"words": float(self.words), "function_word": float(self.function_word), "new_terms": float(min(self.new_terms, 6)),
                "best_cosine": self.best_cosine, "their_cosine": self.their_cosine}


def shape(question: str) -> tuple[int, bool]:
    """(words, whether any is a function word) of a question: the parts of a `Fit` that need no index."""
    words = _WORD.findall(question)
    return len(words), not all(_is_content(w) for w in words)


def stays_on(fit: Fit) -> bool:
    """The hand-set rule for whether a `candidate` question stays on the earlier papers, used when the
    follow-up model file has no resolution head (and by the trainer, which matches its rate).

    >>> [stays_on(Fit(*shape(q), n, m, 0.0)) for q, n, m in (("error rate on MNIST?", 1, 0.3), ("diffusion models", 1, 0.3),
    ...                                                       ("imagenet top-1?", 2, 0.04))]
    [True, False, True]
    >>> q = "could the same idea be applied to my own clinical dataset without retraining?"
    >>> [stays_on(Fit(*shape(q), 5, m, 0.0)) for m in (0.0, 0.05)]
    [True, False]
    """
    if fit.words > ELLIPTIC_WORDS:
        return fit.margin <= 0.0
    if not fit.function_word:  # keywords alone: a search as often as a follow-up, so the semantic test only
        return fit.margin < FIT_MARGIN
    return fit.new_terms <= NEW_TERMS or fit.margin < FIT_MARGIN


def retrieval_query(question: str, history: Sequence[Any] | None) -> str:
    """The text to retrieve with: the question, plus the previous question and the recently cited
    titles when the question leans on earlier turns; the question itself otherwise.

    >>> retrieval_query("Who wrote it?", [("What does PIXEL reconstruct?", {"titles": ["Language Modelling with Pixels"]})])
    'Who wrote it? | What does PIXEL reconstruct? | Language Modelling with Pixels'
    >>> retrieval_query("What does GraphMAE mask?", [("What does PIXEL reconstruct?", {"titles": ["Language Modelling with Pixels"]})])
    'What does GraphMAE mask?'
    """
    past = turns(history)
    if not past or not needs_context(question):
        return question
    titles: list[str] = []
    for turn in reversed(past[-LOOKBACK:]):  # the most recent turn that cited something
        if turn.titles:
            titles = list(turn.titles[:MAX_TITLES])
            break
    parts = [question]
    previous = past[-1].question
    if previous and previous != question:
        parts.append(previous)
    parts += [t for t in titles if t not in parts]
    return " | ".join(parts)


__all__ = ["ELLIPTIC_WORDS", "FIT_MARGIN", "LONG_WORDS", "NEW_TERMS", "Turn", "to_turn", "turns", "needs_context", "content_words",
           "Fit", "candidate", "referent_titles", "retrieval_query", "shape", "stays_on"]
