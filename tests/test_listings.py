"""Listing lookups (rag.listings) and the router (rag.routing) on the shipped pages; no index, no model.

Expected counts were checked by hand on the raw pages in data/seeds with grep, e.g.
    grep -c "/ top 5% paper$"  data/seeds/001_*.txt     -> 11
    grep -c "/ top 25% paper$" data/seeds/001_*.txt     -> 27
    grep -c "/ poster accept$" data/seeds/001_*.txt     -> 97   (96 in person, 1 virtual)
    grep -c "^Virtual presentation" data/seeds/001_*.txt -> 1
    grep -cx "Outstanding Paper\\|Honorable Mention" data/seeds/001_*.txt -> 2
    grep -c " · " data/seeds/000_*.txt                   -> 8    (one author line per oral)
    grep -c "^#[0-9]*$" data/seeds/001_*.txt             -> 135  (one poster number per poster)
    grep -c "Sewoong Oh" data/seeds/*.txt                -> 1;  "Micah Goldblum" -> 3
and each test also recounts from the page text itself where a line pattern says it.
"""
from __future__ import annotations

import doctest
from pathlib import Path

import pytest

import rag.listings
from rag.corpus import load_corpus
from rag.listings import Listings, Lookup, name_matches
from rag.routing import route

SEEDS = Path(__file__).resolve().parent.parent / "data" / "seeds"
POSTERS = next(SEEDS.glob("001_*.txt"))


@pytest.fixture(scope="module")
def corpus():
    return load_corpus([SEEDS])


@pytest.fixture(scope="module")
def listings(corpus) -> Listings:
    return Listings(corpus.papers)


def lines_ending(path: Path, suffix: str) -> int:
    return sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip().endswith(suffix))


def test_docstring_examples():
    result = doctest.testmod(rag.listings)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize("lookup, by_hand, line_suffix", [
    (Lookup(tier="top 5%"), 11, "/ top 5% paper"),
    (Lookup(tier="top 25%"), 27, "/ top 25% paper"),
    (Lookup(tier="poster accept"), 97, "/ poster accept"),
    (Lookup(presentation="virtual"), 1, "Virtual presentation / poster accept"),
    (Lookup(presentation="poster"), 135, None),
    (Lookup(presentation="oral"), 8, None),
    (Lookup(award="any"), 2, None),
    (Lookup(award="Outstanding Paper"), 1, "Outstanding Paper"),
    (Lookup(award="Honorable Mention"), 1, "Honorable Mention"),
    (Lookup(session="Poster Session 3"), 135, None),
    (Lookup(poster="#57"), 1, None),
    (Lookup(authors=("Sewoong Oh",)), 1, None),
    (Lookup(authors=("Micah Goldblum",)), 3, None),
])
def test_lookups_match_the_hand_counts(listings, lookup, by_hand, line_suffix):
    found = listings.find(lookup)
    assert len(found) == by_hand
    if line_suffix:  # the same count read straight off the poster page
        assert lines_ending(POSTERS, line_suffix) == by_hand
    assert len({p.paper_id for p in found}) == len(found)


def test_combinations_and_pages(listings, corpus):
    assert [p.title for p in listings.find(Lookup(authors=("Micah Goldblum",), tier="top 5%"))] == [
        "The Lie Derivative for Measuring Learned Equivariance"]
    assert len(listings.find(Lookup(award="any", tier="top 5%"))) == 2  # both award papers are top 5%
    solo = listings.find(Lookup(session="Poster Session 3", solo=True))
    assert sorted(p.authors for p in solo) == [("Christian Koke",), ("Gregory Schwartzman",)]
    assert [p.title for p in listings.find(Lookup(authors=("Davide Bacciu",), page=listings.page_for("1").page))] == ["Dual Algorithmic Reasoning"]
    assert listings.find(Lookup(authors=("Sewoong Oh",), award="any")) == []
    # a page lookup holds every paper the parser read from that page (its listings, merged duplicates included)
    for info in corpus.pages:
        assert len(listings.find(Lookup(page=info.page))) == info.listings


def test_author_count_and_page_lookups(listings, corpus):
    multi = listings.find(Lookup(multi_page=True))
    # 540 listings on the five pages merge into 525 papers: the 15 extra listings belong to the multi-page papers
    assert len(multi) == 13 and sum(len(p.pages) - 1 for p in multi) == corpus.listings - len(corpus.papers) == 15
    assert len(listings.find(Lookup(multi_author=True))) == sum(1 for p in corpus.papers if p.authors) - 2 == 141
    longest = listings.find(Lookup(most_authors=True))
    assert [len(p.authors) for p in longest] == [25]  # tests/test_corpus.py checks the 25 names
    shared = listings.find(Lookup(shared_author=True))
    assert {p.paper_id for p in listings.find(Lookup(authors=("Micah Goldblum",)))} <= {p.paper_id for p in shared}
    assert all(any(len(listings.authors[a]) > 1 for a in p.authors) for p in shared)
    assert listings.prolific()["Micah Goldblum"] == 3 and min(listings.prolific().values()) == 2
    two = listings.find(Lookup(n_authors=2))
    assert two and all(len(p.authors) == 2 for p in two) and any(p.title.startswith("Few-shot Backdoor") for p in two)


def test_negations_ranges_and_extremes(listings):
    assert len(listings.find(Lookup(tier="top 5%", award="none"))) == 11 - 2
    assert len(listings.find(Lookup(tier="top 5%|top 25%"))) == 11 + 27
    posters = listings.find(Lookup(poster_range=(20, 29)))
    assert sorted(int(p.poster_number[1:]) for p in posters) == list(range(20, 30))
    numbers = [int(p.poster_number[1:]) for p in listings.papers if p.poster_number]
    assert sorted(int(p.poster_number[1:]) for p in listings.find(Lookup(poster_extremes=True))) == [min(numbers), max(numbers)]
    assert all(len(p.authors) >= 10 for p in listings.find(Lookup(min_authors=10)))


def test_loose_values_as_the_cli_takes_them(listings):
    assert len(listings.search(tier="top-5")) == 11 and len(listings.search(tier="Top 25%")) == 27
    assert len(listings.search(page="5")) == 56 and len(listings.search(page="004")) == 56
    assert len(listings.search(award="outstanding")) == 1 and len(listings.search(award="any")) == 2
    assert len(listings.search(author="Micah Goldblum; Tom Goldstein")) == 2  # both must be co-authors
    assert len(listings.search(session="poster session 3", tier="top 5%")) == 11
    with pytest.raises(ValueError, match="pages are 1-5"):
        listings.search(page="9")
    with pytest.raises(ValueError, match="unknown tier"):
        listings.search(tier="spotlight")


@pytest.mark.parametrize("asked, listed", [
    ("Sewoong Oh", "Sewoong Oh"), ("sewoong oh", "Sewoong Oh"), ("S. Oh", "Sewoong Oh"), ("SEWOONG OH", "Sewoong Oh"),
    ("Petar Velickovic", "Petar Veličković"), ("Fernanda Viegas", "Fernanda Viégas"), ("Jonas Lotz", "Jonas F. Lotz"),
    ("J. F. Lotz", "Jonas F. Lotz"), ("Geoffrey Hinton", "Geoffrey E Hinton"), ("Marc Finzi", "Marc A Finzi"),
    ("Jung Woo Ha", "Jung-Woo Ha"), ("Goldblum", "Micah Goldblum"),
])
def test_author_name_variants(listings, asked, listed):
    assert listed in listings.authors_named(asked)
    assert listings.find(Lookup(authors=(asked,))) == listings.find(Lookup(authors=(listed,)))


def test_names_that_are_not_listed_authors(listings):
    assert not name_matches("Jonas Hayase", "Jonathan Hayase") and not name_matches("Oh", "Sewoong Ohm")
    assert listings.authors_named("Sewong Oh") == [] and listings.suggest("Sewong Oh") == "Sewoong Oh"
    assert listings.authors_named("Kaiming He") == [] and "Di He" in listings.authors_named("He")
    assert listings.suggest("Qqqq Zzzz") is None


def test_collection_description_comes_from_the_records(listings, corpus):
    text = listings.describe()
    assert text.startswith(f"{len(corpus.papers)} papers from {len(corpus.pages)} listing pages")
    assert "Poster Session 3 (135)" in text and "3 paper listings (264, 77, 56)" in text and "ICLR 2023" not in text
    no_authors = [s.ordinal for s in listings.pages_without_authors]
    assert no_authors == [3, 4, 5]
    assert all(not p.authors for p in corpus.papers if set(p.pages) <= {s.page for s in listings.pages_without_authors})


# ---- routing --------------------------------------------------------------------------------------
M, X, R = "metadata", "mixed", "retrieval"
PHRASINGS = [
    # listing questions: an exact lookup
    ("Which papers did Sewoong Oh co-author?", M, {"authors": ("Sewoong Oh",)}),
    ("Papers by S. Oh?", M, {"authors": ("S. Oh",)}),
    ("which papers did petar velickovic write", M, {"authors": ("petar velickovic",)}),
    ("What has Andrew Wilson got in these ICLR listings?", M, {"authors": ("Andrew Wilson",)}),
    ("Xingchao Liu and Qiang Liu appear together on which posters?", M, {"authors": ("Xingchao Liu", "Qiang Liu")}),
    ("Which paper is by Hong, Bhatia and Dragan?", M, {"authors": ("Hong", "Bhatia", "Dragan")}),
    ("Davide Bacciu - which papers is he on?", M, {"authors": ("Davide Bacciu",)}),
    ("Which posters won an award?", M, {"award": "any"}),
    ("Which paper received the Outstanding Paper award?", M, {"award": "Outstanding Paper"}),
    ("Which posters were rated top 5%?", M, {"tier": "top 5%"}),
    ("List all the top-25% papers.", M, {"tier": "top 25%"}),
    ("How many top-25% posters are there?", M, {"tier": "top 25%"}),
    ("What was in the oral session?", M, {"presentation": "oral"}),
    ("Which papers are in Oral 6 Track 5?", M, {"session": "Oral 6 Track 5: Applications- & Deep Learning and representational learning"}),
    ("What is poster #57?", M, {"poster": "#57"}),
    ("Which paper was poster number 31?", M, {"poster": "#31"}),
    ("Which poster in Poster Session 3 was presented virtually rather than in person?", M, {"presentation": "virtual"}),
    ("How many papers are listed on page 5?", M, {"page": "004_b18b7ed4e5679936"}),
    ("Which papers on the poster session page have just a single author?", M, {"solo": True}),
    ("Which papers did Yann Dauphin co-author?", M, {}),
    ("Which papers are listed on more than one page?", M, {"multi_page": True}),
    ("Which paper has the longest author list?", M, {"most_authors": True}),
    ("Which authors have more than one paper in the collection?", M, {"shared_author": True}),
    ("How many papers have more than one author?", M, {"multi_author": True, "solo": False}),
    ("Which papers have exactly two authors?", M, {"n_authors": 2}),
    ("How many poster presentations were virtual?", M, {"presentation": "virtual"}),
    ("List the papers by Oh.", M, {"authors": ("Oh",)}),
    ("how many papers is goldblum on", M, {"authors": ("goldblum",)}),  # lowercase, but no word of any abstract
    ("Which top 5% posters did not receive any award?", M, {"award": "none", "tier": "top 5%"}),
    ("How many posters were in either the top 5% or the top 25%?", M, {"tier": "top 5%|top 25%"}),
    ("Which posters are plain accepts, not top 5% or top 25%?", M, {"tier": "poster accept"}),
    ("What papers were on posters #20 through #29?", M, {"poster_range": (20, 29)}),
    ("Which papers have the lowest and highest poster numbers?", M, {"poster_extremes": True}),
    ("Which papers have ten or more authors?", M, {"min_authors": 10}),
    ("Andrew Wilson has two papers - which one was an oral and which a poster?", M, {"presentation": None}),
    ("Did Samy Bengio have any papers in this collection?", M, {}),  # Bengio is listed, Samy Bengio is not
    ("Who wrote 'DenseShift: Towards Accurate and Transferable Low-Bit Shift Network'?", M, {}),
    ("Papers by Kaiming He?", M, {}),
    # a lookup, then a topic ranked within it
    ("Which top-5% posters are about graph neural networks?", X, {"tier": "top 5%"}),
    ("Which of Micah Goldblum's papers are about privacy?", X, {"authors": ("Micah Goldblum",)}),
    ("Which RL posters is Ofir Nachum an author of?", X, {"authors": ("Ofir Nachum",)}),
    ("How many top-5% posters are about equivariance?", X, {"tier": "top 5%"}),
    ("Which orals are about graphs?", X, {"presentation": "oral"}),
    ("Among the top 5% papers, which use reinforcement learning?", X, {"tier": "top 5%"}),
    ("Are any of the award-winning papers about graphs?", X, {"award": "any"}),
    ("There are two different 'DINO' papers in the poster session - what is each one about?", X, {"session": "Poster Session 3"}),
    # content questions, some with name-like words that are not listed authors in an authorship phrase
    ("What attack success rate do the NTK-designed poisons reach?", R, {}),
    ("Which papers use the Adam optimizer?", R, {}),
    ("Which methods are inspired by Hebbian learning?", R, {}),
    ("What does the Wasserstein distance measure in the optimal transport paper?", R, {}),
    ("How do Gaussian processes help Bayesian optimization here?", R, {}),
    ("What is Allen-Cahn message passing?", R, {}),
    ("Which paper uses Shapley values for feature attribution?", R, {}),
    ("How many GPUs were used to train PIXEL?", R, {}),
    ("What mIoU does SegFormer-B4 get on ADE20K and at what size?", R, {}),
    ("Is TimesNet one of the top-25% papers?", R, {}),  # yes/no about a paper named by its content
    ("Who wrote the PIXEL paper?", R, {}),
    ("Who is the first author of the Othello world-representation paper, and what was its poster number?", R, {}),
    ("Which poster session was it in?", R, {}),
    ("How many papers are about diffusion?", R, {}),  # a count over content: retrieval, with a stated bar
    ("Which papers study virtual reality?", R, {}),
    ("How many authors does the PIXEL paper have?", R, {}),
]


@pytest.mark.parametrize("question, name, fields", PHRASINGS)
def test_routing(listings, question, name, fields):
    r = route(question, listings)
    assert r.name == name, r.reasons
    for key, value in fields.items():
        assert getattr(r.lookup, key) == value, r.reasons
    assert r.reasons  # every decision says why


def test_routing_covers_enough_phrasings():
    kinds = {n for _, n, _ in PHRASINGS}
    assert len(PHRASINGS) >= 30 and kinds == {M, X, R}


def test_route_details(listings):
    assert route("Did Samy Bengio have any papers in this collection?", listings).unknown_authors == ("Samy Bengio",)
    titled = route("How many authors does 'Multi-lingual Evaluation of Code Generation Models' have?", listings)
    assert titled.form == "count" and listings.by_id[titled.lookup.paper].title == "Multi-lingual Evaluation of Code Generation Models"
    unknown = route("Which posters list Sewong Oh as an author?", listings)
    assert unknown.unknown_authors == ("Sewong Oh",)
    assert route("Which top-5% posters are about graph neural networks?", listings).topic == "graph neural networks"
    assert route("How many top-25% posters are there?", listings).form == "count"
    assert route("How many papers are about diffusion?", listings).form == "count"
    assert route("How many GPUs were used to train PIXEL?", listings).form != "count"
