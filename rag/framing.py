"""The request frame around a question's subject: "Summarize ...", "Explain X in simple terms", "Recommend a paper on X".

A user writes instructions as often as questions. The frame's words name the request, not the
topic: "describe" or "summarize" in a survey's abstract is no evidence about PIXEL, and "explain"
or "recommend" would make a question about explanations or recommender systems look covered.
Words that only ever frame a request are question words (rag.coverage.QUESTION_WORDS) and count
nowhere; the frames here are the ones whose words also name topics, so they are taken off as whole
phrases, at the start of the question or at its end, never one word alone. What is left is what
`ask` retrieves with and what the answerability decision judges; the generator still answers the
question as asked.

    >>> subject("Explain rectified flow in simple terms.")
    'rectified flow.'
    >>> subject("Recommend a paper to read on model compression.")
    'model compression.'
    >>> subject("Which papers propose explainable recommender systems?")
    'Which papers propose explainable recommender systems?'
    >>> subject("Walk me through how SPDER works."), subject("Which paper studies random walks through graphs?")
    ('SPDER works.', 'Which paper studies random walks through graphs?')
    >>> subject("List the papers that study grokking, with one line each."), subject("Summarize PIXEL in two sentences.")
    ('List the papers that study grokking.', 'Summarize PIXEL.')
    >>> subject("Which papers use a line search, as bullet points?"), subject("Which paper encodes molecules as a table?")
    ('Which papers use a line search?', 'Which paper encodes molecules as a table?')
"""
from __future__ import annotations

import re

_PLEASE = (r"(?:(?:please|pls|hey|hi|ok|okay)[\s,]+)?(?:(?:can|could|would|will)\s+you\s+(?:please\s+)?)?"
           r"(?:(?:briefly|quickly|simply|concisely)\s+)?")
_SOME = r"(?:me\s+)?(?:(?:a|an|one|some|the|any|two|three|a\s+few|a\s+couple\s+of)\s+)?(?:(?:good|great|key|relevant|useful|nice|recent|classic)\s+)?"
# Opening frames: an imperative whose verb also names topics ("explain": explainability;
# "recommend": recommender systems), with what follows it up to the subject.
_WH = r"(?:\s+(?:what|how|why)\b(?!\s+(?:many|much)))?"  # "... how X works", not "... how many"
_OPENING = re.compile(
    rf"^\s*{_PLEASE}(?:"
    rf"explain(?:\s+(?:to\s+me|briefly|simply|concisely))?{_WH}"
    rf"|(?:walk|talk|take)\s+me\s+through{_WH}"
    rf"|help\s+me\s+(?:understand|get|grasp){_WH}"
    rf"|break\s+down(?:\s+for\s+me)?{_WH}"
    rf"|give\s+me\s+(?:a\s+)?(?:quick\s+|short\s+)?(?:rundown|run-down|primer|walkthrough|walk-through)\s+(?:of|on)"
    rf"|recommend\s+{_SOME}(?:papers?|works?|abstracts?|readings?|things?)(?:\s+(?:to|i\s+should|we\s+should|worth)\s+read(?:ing)?)?"
    rf"(?:\s+(?:on|about|for|regarding|covering|in))?"
    rf"|(?:suggest|point\s+me\s+to)\s+{_SOME}(?:papers?|works?|readings?)(?:\s+(?:to\s+read|worth\s+reading))?(?:\s+(?:on|about|for|regarding|in))?"
    rf"|(?:what|which\s+(?:papers?|works?|abstracts?|ones?))\s+(?:should|could|can|do|would\s+you\s+recommend)\s+(?:i|we)\s+"
    rf"(?:read|start\s+with|look\s+at)(?:\s+first)?(?:\s+(?:to\s+(?:understand|learn(?:\s+about)?|get\s+into)|on|about|for|regarding))"
    rf"|where\s+(?:should|do|can)\s+(?:i|we)\s+start(?:\s+reading)?(?:\s+(?:with|on|to\s+understand|if\s+i\s+want\s+to\s+understand))"
    rf"|tl\s*;?\s*dr(?:\s*(?::|of|for|on))?"
    rf"|what(?:'s|\s+is)\s+the\s+(?:general\s+|current\s+)?consensus\s+(?:on|about|regarding)(?:\s+whether)?"
    rf"|(?:and\s+)?(?:what|how)\s+about"
    rf")\s+", re.I)
# The asker's self-introduction: "I'm a hydrologist and ...", "As a radiologist, ...", "I work for a
# power company. ...". Its words name the asker, not the topic: "hydrologist" or "company" missing
# from the best abstract is no sign that the collection lacks the asked method. Only the role and its
# workplace are taken off, at the start ("I'm a speech therapist interested in lip reading" keeps
# "lip reading"); what the asker works on ("I work on protein folding") stays.
_STOP = (r"(?:about|on|in|of|for|with|to|at|from|and|or|but|so|who|that|which|what|how|why|when|where|if|because|since|"
         r"interested|looking|curious|trying|wondering|working|hoping|new|confused|bit|little|lot|fan|result|baseline|"
         r"rule|example|whole|side|i|we|you|it|is|are|was|have|has|need|want)")
_W = rf"(?!{_STOP}\b)[\w\-/&'.]*\w"  # one word of a role or a workplace
_ROLE = rf"(?:{_W}\s+){{0,3}}{_W}"  # "hydrologist", "high-school chemistry teacher"
_PLACE = rf"(?:\s+(?:at|in|for|with)\s+(?:(?:a|an|the|our|my|of)\s+|{_W}\s+){{0,5}}{_W})?"  # "at a regional bank"
_END = r"(?:\s*(?:[,;:!.]|—|–|\s-)\s*(?:(?:and|so|but)\s+)?|\s+(?:and|so|but)\s+)"
_GREETING = r"(?:(?:hi|hello|hey)(?:\s+(?:there|all|folks|everyone))?[\s,!.]+)?"
_INTRO = re.compile(
    rf"^\s*{_GREETING}(?:"
    rf"(?:(?:i'?m|i\s+am)\s+(?:a|an)\s+|as\s+(?:a|an)\s+){_ROLE}{_PLACE}(?:{_END}|\s+(?:who\s+is\s+|and\s+)?(?:interested\s+in|curious\s+about|looking\s+(?:for|into)|working\s+(?:on|with))\s+"
    rf"|\s+(?=(?:trying|hoping|wondering|curious|worried)\b))"
    rf"|as\s+(?:a|an)\s+{_ROLE}{_PLACE}\s+(?=i\s)"
    rf"|i\s+(?:work\s+(?:at|for|in)|teach|run|manage|lead|own|coach)\s+(?:(?:a|an|the|our|my|of)\s+|{_W}\s+){{0,5}}{_W}{_PLACE}{_END}"
    rf")(?=\S)", re.I)
# Closing frames: "... in simple terms", "..., briefly", "ELI5", and how the answer should look
# ("with one line each", "in two sentences", "as bullet points", "with citations"): "line" or
# "bullet" would otherwise be searched for ("List the papers that study grokking, with one line
# each." put a "Touch-Line Transformer" first).
_CLOSING = re.compile(r"(?:\s*,)?\s+(?:in\s+(?:simple|plain|layman'?s?|easy)\s+(?:terms|words|english|language)"
                      r"|(?:very\s+)?(?:briefly|simply|concisely)|like\s+i'?m\s+(?:five|5)|eli5|(?:[,:]\s*)?tl\s*;?\s*dr"
                      r"|(?:with\s+|and\s+give\s+)?(?:one|a)\s+(?:short\s+)?(?:line|sentence|summary)\s+(?:each|per\s+(?:paper|item|one|result))"
                      r"|(?:in|using)\s+(?:one|a|two|three|a\s+few|few|\d+)\s+(?:short\s+)?(?:sentences?|lines?|words|paragraphs?|bullets?)"
                      r"|(?:in|as)\s+(?:a\s+)?(?:bullet(?:ed)?\s+(?:points?|list)|bullets|(?:short\s+)?list)"
                      r"|with\s+(?:the\s+)?(?:citations|sources|references|links)"
                      r"|(?:and\s+)?keep\s+it\s+(?:short|brief))(?=\s*[.?!]*\s*$)", re.I)


def without_intro(question: str) -> str:
    """`question` without the asker's self-introduction at its start (at most two; unchanged when it
    has none, or when nothing would be left).

    >>> without_intro("I work for a regional power company. Was TIDER tested on electricity data?")
    'Was TIDER tested on electricity data?'
    >>> without_intro("As a radiologist, which paper segments tumours?")
    'which paper segments tumours?'
    >>> without_intro("I'm a data scientist at a bank, and I want to find fraud in transaction graphs.")
    'I want to find fraud in transaction graphs.'
    >>> without_intro("I'm a speech therapist interested in systems that read lips from video.")
    'systems that read lips from video.'
    >>> without_intro("I'm a bit confused about diffusion. Which paper explains score matching?")
    "I'm a bit confused about diffusion. Which paper explains score matching?"
    """
    rest = question
    for _ in range(2):
        cut = _INTRO.sub("", rest, count=1)
        if cut == rest:
            break
        rest = cut
    return rest if rest.strip(" ?.!,") else question


def subject(question: str) -> str:
    """`question` without the asker's self-introduction and the request frames of _OPENING and
    _CLOSING (unchanged when it has none, or when taking them off would leave nothing)."""
    rest = _CLOSING.sub("", _OPENING.sub("", without_intro(question), count=1), count=1)
    return rest if rest.strip(" ?.!,") else question


__all__ = ["subject", "without_intro"]
