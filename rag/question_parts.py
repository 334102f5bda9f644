"""The parts of a question: what a several-part question asks, one clause each.

"By how much does X improve, and on which benchmark?" asks two things; an answer that quotes only
the sentence with the most question words may give the number and miss the benchmark. The
extractive generator (rag.extractive) makes sure each part gets the sentence that covers it best.

A part is a clause that asks something: the question is split at coordinated wh-clauses (", and
on which ...", "and roughly how many ...", "or what ..."), at semicolons and at question marks;
context sentences that ask nothing ("I need this for a survey.") are no parts. A part that asks
for a quantity ("how many", "by how much", "what percentage") prefers a sentence holding a number.
`guesses` reads the candidate answers a question offers ("MuJoCo or Meta-World?", "like Cora").
Purely lexical and cheap (regular expressions, microseconds): no model is involved.

    >>> [p.text for p in question_parts("By how much does it improve, and on which benchmark?")]
    ['By how much does it improve', 'on which benchmark']
    >>> [p.quantity for p in question_parts("By how much does it improve, and on which benchmark?")]
    [True, False]
    >>> [p.text for p in question_parts("Which paper introduces PIXEL?")]
    ['Which paper introduces PIXEL']
"""
from __future__ import annotations

import re
from dataclasses import dataclass

# What opens an asking clause: wh-words, possibly after a preposition ("on which", "by how much").
_WH = r"(?:what|which|who|whom|whose|how|why|when|where|whether)"
_ASKING = re.compile(rf"^(?:(?:roughly|approximately|about|also|exactly|then|and)\s+)?(?:(?:on|in|at|by|for|from|to|with|of|under|over|against|into)\s+)?{_WH}\b"
                     r"|^(?:does|do|did|is|are|was|were|can|could|has|have|had|list|name|give|tell|show|compare)\b", re.I)
# A coordinator followed (within two words: "and roughly how many", "and also on which") by a wh-clause.
_COORD = re.compile(rf"(?:\s*,\s*|\s+)(?:and|or|plus|as well as)\s+(?=(?:\w+\s+){{0,2}}?"
                    rf"(?:(?:on|in|at|by|for|from|to|with|of|under|over|against|into)\s+)?{_WH}\b)"
                    rf"|\s*(?:,|:|\s-|—|–)\s*(?=(?:(?:on|in|at|by|for|from|to|with|of|into)\s+)?{_WH}\b)"
                    r"|\s*;\s*", re.I)
_SENTENCE = re.compile(r"(?<=[?.!])\s+")
# Asks for an amount: a sentence with a number answers it.
QUANTITY = re.compile(r"\bhow\s+(?:many|much|large|big|long|fast|often|far|high|low|small|deep|wide|well)\b"
                      r"|\bby\s+what\s+(?:factor|margin)\b|\bwhat\s+(?:[\w\-/]+\s+){0,3}?(?:percentage|fraction|share|proportion|"
                      r"number|size|rate|ratio|factor|margin|speed-?up|accuracy|score|count|amount|ap|auroc|auc|f1|bleu|"
                      r"perplexity|error|loss|top-1|top-5|parameters|params)\b|\bnumber\s+of\b", re.I)
# Asks for named things: "which datasets", "what baselines", "on which benchmark" (a sentence naming
# some, "Iris", "CIFAR-10", "ResNet-50", answers it).
NAMES = re.compile(r"\b(?:what|which)\s+(?:[\w\-]+\s+){0,2}?(?:datasets?|benchmarks?|baselines?|models?|architectures?|backbones?|"
                   r"tasks?|languages?|detectors?|networks?|metrics?|corpora|corpus|simulators?|environments?|domains?|"
                   r"encoders?|classifiers?|competitors?)\b", re.I)
# A named thing in a sentence, not its first word: a capitalized word, an acronym, a name with digits.
_NAMED = re.compile(r"(?<!^)(?<![.!?]\s)\b(?:[A-Z][a-z]+[A-Z0-9][\w\-]*|[A-Z]{2,}[\w\-]*|[A-Z][a-z]+(?:-\d[\w\-]*)?|[A-Za-z]+-\d+[\w\-]*)\b")
# A number in a sentence: digits, or the number words abstracts spell out.
NUMBER = re.compile(r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|fifty|"
                    r"hundred|hundreds|thousand|thousands|million|millions|billion|billions|twice|double|half|"
                    r"fold|percent)\b", re.I)
# An amount stated in an abstract: a number standing alone, with at most a short unit ("87.8%", "5 FPS",
# "86M", "10x"; not the digits of a name such as "GPT-2", "ResNet-50", "3x3"), or a number word.
AMOUNT = re.compile(r"(?<![A-Za-z\-\d.])\d+(?:[.,]\d+)*(?:[A-Za-z%×]{0,3})(?![A-Za-z\d])|\b(?:two|three|four|five|six|seven|"
                    r"eight|nine|ten|eleven|twelve|twenty|thirty|fifty|hundred|hundreds|thousand|thousands|million|millions|"
                    r"billion|billions|twice|double|half|fold|percent)\b", re.I)
MAX_PARTS = 4
# What a wh-phrase asks for: the words after "what" / "which" / "how many" / "how much", up to the
# first function word ("what frame rate did ...", "which exact backbone gave ..."). An abstract that
# names none of them seldom answers: "What Dice scores did Neuralizer get?" finds Neuralizer's
# abstract, which gives no Dice score (kind (c) of the answerability sets).
_FOCUS = re.compile(r"\b(?:what|which|how\s+many|how\s+much)\s+((?:[\w\-\./%]+\s*){1,4})", re.I)
# ... and what a request asks for: "Give me ResNeSt's ImageNet top-1 accuracy.", "Name the three
# datasets ...", "I need the answer accuracy ..." (a request names what it wants right after its verb).
_FOCUS_ASK = re.compile(r"(?:^|[.;!?]\s+)(?:please\s+)?(?:(?:can|could|would)\s+you\s+(?:please\s+)?)?"
                        r"(?:(?:give|tell|show|name|list|report|state|find|send)\s+(?:me\s+|us\s+)?|i\s+(?:need|want)\s+(?:to\s+know\s+)?)"
                        r"(?:the\s+|all\s+(?:the\s+)?|its\s+|their\s+)?(?!(?:me|us|what|which|who|whom|whose|how|why|when|where|whether)\b)"
                        r"((?:[\w\-\./%']+\s*){1,4})", re.I)
# ... and what a yes/no check asks for: "Do the MLP-Mixer authors give a concrete ImageNet top-1
# accuracy?", "Does OBoW report a linear-probe accuracy?", "Are the image datasets named in ...?" (the
# thing the paper would have to say; "say which ..." is a wh-phrase already).
_FOCUS_YN = re.compile(r"\b(?:does|do|did|is|are|was|were)\b[^?.;!]{0,80}?\b(?:say|state|report|give|mention|specify|disclose|"
                       r"list|name|provide|include|quote|publish)s?\s+(?:(?:a|an|the|any|its|their|exact|exactly|concrete|specific|"
                       r"actual)\s+)*(?!(?:me|us|what|which|who|whom|whose|how|why|when|where|whether|if|that)\b)((?:[\w\-\./%']+\s*){1,4})"
                       r"|^(?:are|is|were|was)\s+(?:the\s+|its\s+|their\s+|any\s+)?((?:[\w\-\./%']+\s+){1,3}?)"
                       r"(?:named|reported|given|stated|listed|specified|mentioned|disclosed|described)\b", re.I)
_FOCUS_STOP = frozenset("""did does do is are was were has have had can could would will be been the a an of in on for
to with by and or from at as that this these those it its their they he she we you i into than then there here whose
who whom when where why whether if which what how exactly actually roughly approximately about specific
specifically kind kinds sort type types""".split())
# Asks for papers in the plural, or for anything on a topic ("Which papers ...", "any papers on X",
# "Anything about liquid networks?"): one paper holding the topic answers it, the others may add to it.
ASKS_LIST = re.compile(r"\b(?:which|what|any|all|list|name|show|find|give)\b.{0,40}\b(?:papers|works|studies|articles)\b"
                       r"|\b(?:papers|works|studies|articles)\b.{0,30}\b(?:on|about|that|which|where|using|in)\b"
                       r"|\banything\b|\bwhich\s+ones\b", re.I)

# Candidate answers the asker offers ("which simulator, MuJoCo or Meta-World?", "datasets like Cora",
# "is DVS128 Gesture among them?", "- lrs3?"): short runs, split at "or", "and", commas and slashes.
_GUESS = re.compile(r"\b(?:like|such as|(?<=, )say,?|e\.g\.,?|maybe|perhaps|for example|for instance|including|especially|probably|possibly)\s+"
                    r"((?:[\w\-\./]+(?:\s*,\s*|\s+(?:or|and)\s+|\s*/\s*|\s+)?){1,6})", re.I)
_AMONG = re.compile(r"\b(?:is|was|were|are)\s+((?:[\w\-\.]+\s+){1,4}?)(?:among|one of|included|in there|part of)\b", re.I)
_ALT = re.compile(r"([\w\-\./]+(?:\s+[\w\-\./]+){0,2})\s+or\s+(?:just\s+|only\s+|maybe\s+)?([\w\-\./]+(?:\s+[\w\-\./]+){0,2})\s*\?", re.I)
_TAIL = re.compile(r"(?:,|\s-|—|–)\s*([\w\-\./]+(?:\s+[\w\-\./]+)?)\s*\?")
_SHORT = re.compile(r"(?:^|[?.!]\s+)([\w\-\./]+(?:\s+[\w\-\./]+)?)\s*\?")
_NOT_GUESS = re.compile(r"^(?:what|which|who|how|why|when|where|whether|is|are|was|were|do|does|did|can|could|or|and|any|anyone|"
                        r"anything|right|really|true|correct|ok|okay|yes|no|name|exactly|instead|too|then|again|though|tho|"
                        r"roughly|approximately|about|actually|anyway|still|please|overall|precisely|specifically|in|per|not|"
                        r"something|someone|somewhere|else|their|its|it|they|them|his|her|our|your|my)\b|.*\bones?$", re.I)
# What ends a run without naming a candidate: a particle ("coref too?", "which benchmarks, though?") or
# the attribute asked for ("model size?", "md17 numbers?", "feature vector dim?": the asker names what
# they want to know, not a value it might take). Stripped; what remains ("md17") may still be a guess.
_RUN_TAIL = re.compile(r"(?:\s+(?:too|also|as\s+well|then|though|tho|again|instead|here|there|exactly|roughly|approximately|"
                       r"size|sizes|dimensions?|dims?|footprint|count|counts|numbers?|results?|scores?|accuracy|rate|ratio|"
                       r"cost|costs|time|budget|speed|latency|throughput|gains?|improvements?|details?))+$", re.I)
_SPLIT_GUESS = re.compile(r"\s*(?:,|/|\bor\b|\band\b)\s*", re.I)
MAX_GUESS_WORDS = 3


def guesses(question: str) -> list[str]:
    """The candidate answers a question offers, as written (runs of at most MAX_GUESS_WORDS words).

    >>> guesses("Which simulator hosted the robot tasks, MuJoCo or Meta-World?")
    ['MuJoCo', 'Meta-World']
    >>> guesses("Which graph datasets, like Cora or PubMed, were used?"), guesses("Is DVS128 Gesture among them?")
    (['Cora', 'PubMed'], ['DVS128 Gesture'])
    >>> guesses("geneface - which corpus for the motion generator, lrs3?"), guesses("Which paper introduces PIXEL?")
    (['lrs3'], [])
    >>> guesses("Does it split channels (e.g. color from lightness), or stay scale-invariant?")
    []
    >>> guesses("does it split channels (e.g. color from lightness)?")
    []
    >>> guesses("which benchmarks, though?"), guesses("model size?"), guesses("any qm9 or md17 numbers?"), guesses("coref too?")
    ([], ['model'], ['md17'], ['coref'])
    >>> guesses("what did they say it resembles?"), guesses("a standard one or their own?"), guesses("MCTS or something else?")
    ([], [], ['MCTS'])
    """
    question = re.sub(r"\([^)]*\)", " ", question)  # "(e.g. a tiger's stripes)": an aside describes, it offers no answer
    runs: list[str] = []
    for pattern in (_GUESS, _AMONG):  # lists: "like Cora or PubMed", "were Cora and Citeseer among ..."
        runs += [run for m in pattern.finditer(question) for run in _SPLIT_GUESS.split(m.group(1))]
    for m in _ALT.finditer(question):
        runs += [m.group(1), m.group(2)]
    for pattern in (_TAIL, _SHORT):
        runs += [m.group(1) for m in pattern.finditer(question)]
    # A candidate names something (a capital or a digit: "Cora", "lrs3"), unless the asker writes all in
    # lowercase; "or stays scale-invariant" and "like why generalization shows up" describe, they offer no answer.
    lowercase = question == question.lower()
    out: list[str] = []
    for run in runs:
        run = _RUN_TAIL.sub("", " " + run.strip(" ,.-")).strip()
        if (run and not _NOT_GUESS.match(run) and len(run.split()) <= MAX_GUESS_WORDS and run not in out
                and (lowercase or re.search(r"[A-Z0-9]", run))):
            out.append(run)
    return out


@dataclass(frozen=True)
class Part:
    """One asked clause of a question."""

    text: str
    quantity: bool  # asks for an amount ("how many", "by how much")
    names: bool = False  # asks for named things ("which datasets", "what baselines")


def _asks(clause: str) -> bool:
    return bool(_ASKING.search(clause.strip(" ,\"'(")))


def question_parts(question: str) -> list[Part]:
    """The asked clauses of `question`, in order (at most MAX_PARTS); the whole question when it has none.

    >>> [p.text for p in question_parts("How many classes and roughly how many images does it have, and what is it called?")]
    ['How many classes', 'roughly how many images does it have', 'what is it called']
    >>> [p.text for p in question_parts("I'm surveying unlearning. Which papers handle sequential deletion requests?")]
    ['Which papers handle sequential deletion requests']
    >>> [p.text for p in question_parts("diffusion U-Net features for image classification")]
    ['diffusion U-Net features for image classification']
    """
    question = " ".join(question.split())
    clauses: list[str] = []
    for sentence in _SENTENCE.split(question):
        pieces = [p.strip(" ,;?.!") for p in _COORD.split(sentence)]
        pieces = [p for p in pieces if p]
        if not pieces:
            continue
        # A sentence or a lead-in that asks nothing is context ("I need this for an audit.", "On
        # YouRefIt, how much ..."): the parts are the clauses that ask.
        asking = [p for p in pieces if _asks(p)]
        if asking:
            clauses += asking
        elif sentence.rstrip().endswith("?"):
            clauses.append(" ".join(pieces))
    if not clauses:
        clauses = [question.strip(" ?.!")]
    parts = [Part(c, bool(QUANTITY.search(c)), bool(NAMES.search(c))) for c in clauses if c]
    return parts[:MAX_PARTS]


def asked_phrases(question: str) -> list[str]:
    """What each wh-phrase of `question` asks for: the words after it, as written (at most four).

    >>> asked_phrases("In the traffic sign paper, what frame rate did Tiny YOLO reach, and what mAP?")
    ['frame rate', 'mAP']
    >>> asked_phrases("How many GPUs trained PIXEL?"), asked_phrases("What is PIXEL?"), asked_phrases("PIXEL GPUs")
    (['GPUs trained PIXEL'], [], [])
    >>> asked_phrases("Which method fills gaps in sensor data?"), asked_phrases("Which papers build graphs?")
    (['method'], ['papers'])
    >>> asked_phrases("What model size did they train?")
    ['model size']
    >>> asked_phrases("Give me ResNeSt's ImageNet top-1 accuracy."), asked_phrases("Give me the paper that renders text as images.")
    (["ResNeSt's ImageNet top-1 accuracy"], ['paper'])
    >>> asked_phrases("I want the paper asking whether nets learn the same features."), asked_phrases("Which training budget?")
    (['paper asking'], ['training budget'])
    >>> asked_phrases("Tell me which baselines SAF beat."), asked_phrases("I need the frame rate it reaches.")
    (['baselines SAF beat'], ['frame rate'])
    >>> asked_phrases("Do the MLP-Mixer authors give a concrete ImageNet top-1 accuracy?")
    ['ImageNet top-1 accuracy']
    >>> asked_phrases("Are the image datasets named in the attribution paper?"), asked_phrases("Does it say which optimizer?")
    (['image datasets'], ['optimizer'])
    """
    out: list[str] = []
    for m in [*_FOCUS.finditer(question), *_FOCUS_ASK.finditer(question), *_FOCUS_YN.finditer(question)]:
        words: list[str] = []
        for word in next((g for g in m.groups() if g), "").split():  # _FOCUS_YN's passive form is its second group
            w = word.strip(",.?;:!()\"'")
            if not w or w.lower() in _FOCUS_STOP or (len(words) == 1 and _verb_after_head(words[0], w)):
                break
            words.append(w)
        if words:
            out.append(" ".join(words))
    return out


# A generic head noun after "which" / "what" ("which method", "what papers"): the word after it is
# most often the verb of the ask ("Which method fills gaps in ...", "Which papers build ..."), not
# part of what is asked for; "what model size" still asks for a size.
_HEADS = frozenset("""paper method approach work study technique model system framework tool algorithm one
architecture network idea trick solution""".split())


def _verb_after_head(head: str, word: str) -> bool:
    """Whether `word` reads as the verb after a generic head: any word after a plural head ("papers
    build"), a word in -s or -ed after a singular one ("method fills", "approach rethinks")."""
    h, w = head.lower(), word.lower()
    if h in _HEADS:
        return (w.endswith("s") and not w.endswith(("ss", "us", "is"))) or w.endswith("ed")
    if h.endswith("ies") and h[:-3] + "y" in _HEADS or h.endswith("es") and h[:-2] in _HEADS or h.endswith("s") and h[:-1] in _HEADS:
        return True
    return False


_COUNTS = {w: i for i, w in enumerate("one two three four five six seven eight nine ten".split(), 1)}
_ASKED_COUNT = re.compile(r"(?:^|\b(?:give|list|name|show|find|recommend|suggest|want|need|pick|top)\s+(?:me\s+|us\s+)?(?:the\s+)?"
                          r"(?:top\s+|best\s+)?)(\d{1,2}|one|two|three|four|five|six|seven|eight|nine|ten)\s+(?:[\w\-]+\s+){0,2}?"
                          r"(?:papers|works|studies|articles|abstracts)\b", re.I)


def asked_count(question: str) -> int | None:
    """How many papers the question asks for, when it says ("Give me 3 papers on GNNs", "two papers about X").

    >>> asked_count("Give me 3 papers on graph neural networks"), asked_count("Name two recent papers about KANs")
    (3, 2)
    >>> asked_count("Which papers use 3 datasets?"), asked_count("Which 2 papers ...?")
    (None, None)
    """
    m = _ASKED_COUNT.search(question.strip())
    if not m:
        return None
    word = m.group(1).lower()
    n = int(word) if word.isdigit() else _COUNTS[word]
    return n if 1 <= n <= 10 else None


def names_things(text: str) -> bool:
    """Whether a sentence names something (a capitalized word past its first, an acronym, a name with digits).

    >>> names_things("We test on the Iris dataset and on CIFAR-10."), names_things("We test on complex datasets.")
    (True, False)
    """
    return bool(_NAMED.search(text.strip()))


def named_things(text: str) -> set[str]:
    """The names a sentence holds, as `names_things` finds them (not its first word).

    >>> sorted(named_things("We test on the Iris dataset and on CIFAR-10."))
    ['CIFAR-10', 'Iris']
    """
    return {m.group(0) for m in _NAMED.finditer(text.strip())}


def has_number(text: str) -> bool:
    """Whether a sentence states an amount (digits or a number word)."""
    return bool(NUMBER.search(text))


__all__ = ["AMOUNT", "ASKS_LIST", "MAX_PARTS", "NAMES", "NUMBER", "Part", "QUANTITY", "asked_count", "asked_phrases", "guesses", "has_number", "named_things", "names_things", "question_parts"]
