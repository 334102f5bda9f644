"""Parsing the three page layouts, user JSONL/CSV, merging, and bad input."""
from __future__ import annotations

import re

import pytest

from rag.corpus import detect_layout, load_corpus, normalize_title, paper_id_for, parse_page, read_file
from rag.errors import CorpusError

from .conftest import SEEDS, write_jsonl

# Counted by hand from the raw pages: titles per page, and titles shared between pages.
PAGE_COUNTS = {
    "000_d4af2e6ebec4f2da": ("iclr-oral", 8),
    "001_7c64ba85c4ba0875": ("iclr-poster", 135),
    "002_6f04dc3c2335af58": ("listing", 264),
    "003_b8010ba16a1aae71": ("listing", 77),
    "004_b18b7ed4e5679936": ("listing", 56),
}
CHROME = re.compile(r"subscribe|get trending papers|byak and the research|skip to yearly menu|chat is not available|^(jan|feb|mar|apr) \d+$", re.I)


@pytest.fixture(scope="module")
def corpus():
    return load_corpus([SEEDS])


def test_every_page_parsed_with_its_layout_and_count(corpus):
    got = {p.page: (p.layout, p.listings) for p in corpus.pages}
    assert got == PAGE_COUNTS
    assert corpus.listings == 540
    assert corpus.warnings == []


def test_listings_merge_into_525_distinct_papers(corpus):
    assert len(corpus) == 525
    assert len({p.paper_id for p in corpus.papers}) == 525
    multi = [p for p in corpus.papers if len(p.pages) > 1]
    assert len(multi) == 13  # 11 papers on two pages, 2 on three: 540 - 15 = 525
    assert sum(len(p.pages) for p in corpus.papers) == 540
    three = {p.title for p in multi if len(p.pages) == 3}
    assert three == {"Towards Exact Computation of Inductive Bias",
                     "Training the Untrainable: Introducing Inductive Bias via Representational Alignment"}


def test_paper_on_iclr_and_listing_page_keeps_both_and_its_metadata(corpus):
    unicom = next(p for p in corpus.papers if p.title.startswith("Unicom"))
    assert unicom.pages == ("001_7c64ba85c4ba0875", "002_6f04dc3c2335af58")
    assert unicom.authors and unicom.presentation and unicom.poster_number and unicom.session == "Poster Session 3"


def test_no_page_chrome_in_any_field(corpus):
    for p in corpus.papers:
        for value in (p.title, *p.authors):
            assert not CHROME.search(value), (p.title, value)
        assert not p.abstract.lower().startswith(("subscribe", "new ", "get trending"))
        assert len(p.abstract) > 300 and len(p.title) < 200


def test_glued_subscribe_is_removed_from_first_title(corpus):
    titles = {p.title for p in corpus.papers}
    assert "SpinNet: Learning a General Surface Descriptor for 3D Point Cloud Registration" in titles
    assert not any(t.startswith("Subscribe") for t in titles)


def test_oral_page_fields(corpus):
    pixel = next(p for p in corpus.papers if p.title == "Language Modelling with Pixels")
    assert pixel.authors == ("Phillip Rust", "Jonas F. Lotz", "Emanuele Bugliarello", "Elizabeth Salesky", "Miryam de Lhoneux", "Desmond Elliott")
    assert pixel.session == "Oral 6 Track 5: Applications- & Deep Learning and representational learning"
    assert pixel.presentation == "Oral presentation"
    assert pixel.abstract.startswith("Language models are defined over a finite set of inputs")
    assert pixel.abstract.endswith("modelling language with pixels.")


def test_poster_page_irregular_blocks(corpus):
    by_title = {p.title: p for p in corpus.papers}
    single = by_title["Limitless Stability for Graph Convolutional Networks"]
    assert single.authors == ("Christian Koke",)
    outstanding = by_title["Rethinking the Expressive Power of GNNs via Graph Biconnectivity"]
    assert (outstanding.award, outstanding.poster_number) == ("Outstanding Paper", "#31")
    assert outstanding.presentation == "In-Person Poster presentation / top 5% paper"
    assert outstanding.authors == ("Bohang Zhang", "Shengjie Luo", "Liwei Wang", "Di He")
    honorable = by_title["On the duality between contrastive and non-contrastive self-supervised learning"]
    assert honorable.award == "Honorable Mention" and honorable.poster_number == "#165"
    virtual = by_title["Few-shot Backdoor Attacks via Neural Tangent Kernels"]
    assert virtual.presentation == "Virtual presentation / poster accept"
    assert sum(1 for p in corpus.papers if p.award) == 2
    longest = max(corpus.papers, key=lambda p: len(p.authors))
    assert len(longest.authors) == 25 and all(len(a) < 60 for a in longest.authors)


def test_listing_pages_have_no_authors_and_long_title_survives(corpus):
    listing_only = [p for p in corpus.papers if not (set(p.pages) & {"000_d4af2e6ebec4f2da", "001_7c64ba85c4ba0875"})]
    assert listing_only and all(p.authors == () and p.session is None for p in listing_only)
    long_title = next(p for p in corpus.papers if p.title.startswith("Attention is All You Need? Good Embeddings"))
    assert long_title.pages == ("002_6f04dc3c2335af58", "003_b8010ba16a1aae71")
    assert long_title.abstract.startswith("This paper presents a way of doing large scale audio understanding")


def test_layout_detection_on_each_seed():
    for path in sorted(SEEDS.glob("*.txt")):
        assert detect_layout(path.read_text()) == PAGE_COUNTS[path.stem][0]


def test_ids_are_stable_and_derived_from_normalized_title():
    assert normalize_title("  Few-shot  BACKDOOR attacks, via NTKs! ") == "few shot backdoor attacks via ntks"
    assert paper_id_for("Pointer Networks") == paper_id_for("pointer   networks.")
    assert paper_id_for("Pointer Networks") != paper_id_for("Pointer Network")
    assert re.fullmatch(r"[a-z0-9-]+-[0-9a-f]{8}", paper_id_for("Pointer Networks"))


def test_synthetic_poster_page_with_award_and_single_author():
    page = "\n".join([
        "Session", "", "Poster Session 9", "", "Room A", "", "Abstract:", "", "Chat is not available.", "",
        "In-Person Poster presentation / top 5% paper", "#7", "Outstanding Paper", "A Title", "", "Solo Author", "",
        "This abstract is long enough to be read as prose. " * 8, "",
        "Virtual presentation / poster accept", "#8", "Another Title", "", "A One · B Two", "",
        "Second abstract with several sentences. It goes on. And on for a while to be prose. " * 4,
    ])
    listings, info, warnings = parse_page(page, "p")
    assert info.layout == "iclr-poster" and info.session == "Poster Session 9" and warnings == []
    assert [(l.title, l.authors, l.award, l.poster_number) for l in listings] == [
        ("A Title", ("Solo Author",), "Outstanding Paper", "#7"), ("Another Title", ("A One", "B Two"), None, "#8")]


def test_jsonl_bad_rows_reported_with_line_and_skipped(tmp_path):
    path = tmp_path / "mine.jsonl"
    path.write_text("\n".join([
        '{"title": "Good One", "abstract": "Fine abstract.", "authors": "A; B", "year": "2021", "url": "http://x"}',
        '{"title": "No abstract"}',
        "{not json",
        '{"title": "Bad year", "abstract": "x", "year": "soon"}',
        '["a list"]',
        '{"title": "Good Two", "abstract": "Another.", "venue": "ICLR"}',
    ]) + "\n")
    corpus = load_corpus([path])
    assert [p.title for p in corpus.papers] == ["Good One", "Good Two"]
    assert corpus.papers[0].authors == ("A", "B") and corpus.papers[0].year == 2021 and corpus.papers[1].venue == "ICLR"
    assert [w.split(": ")[0] for w in corpus.warnings] == [f"{path}:2", f"{path}:3", f"{path}:4", f"{path}:5"]
    assert "missing 'abstract'" in corpus.warnings[0] and "not valid JSON" in corpus.warnings[1]


def test_csv_with_quoted_commas_and_bad_rows(tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text('Title,Abstract,Authors\n"A, with comma","Abstract, quoted.","X, Y"\n,missing title,\n"B","Fine.","Z"\n"C","too","many","cells"\n')
    corpus = load_corpus([path])
    assert [(p.title, p.authors) for p in corpus.papers] == [("A, with comma", ("X", "Y")), ("B", ("Z",))]
    assert len(corpus.warnings) == 2 and f"{path}:3" in corpus.warnings[0] and f"{path}:5" in corpus.warnings[1]


def test_csv_without_required_columns(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("name,text\na,b\n")
    with pytest.raises(CorpusError, match="'title' and 'abstract'"):
        read_file(path)


@pytest.mark.parametrize("make, message", [
    (lambda d: d / "missing.jsonl", "not found"),
    (lambda d: (d / "empty").mkdir() or d / "empty", "no corpus files"),
    (lambda d: (d / "x.pdf").write_text("x") and d / "x.pdf", "unsupported"),
    (lambda d: (d / "bin.txt").write_bytes(b"\xff\xfe\x00bad") and d / "bin.txt", "not UTF-8"),
    (lambda d: write_jsonl(d / "allbad.jsonl", [{"title": "t"}]), "no papers found"),
])
def test_bad_corpus_paths_name_the_path(tmp_path, make, message):
    path = make(tmp_path)
    with pytest.raises(CorpusError, match=message) as err:
        load_corpus([path])
    assert str(path) in str(err.value)
