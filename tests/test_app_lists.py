"""The chat UI with listing answers: a list answer as a numbered list whose [n] open the sources panel,
the heading built from the collection's records, and the `/papers` API. A real app.py server on a
loopback port (the helpers of tests/test_app.py), gradio_client and headless Chromium.
"""
from __future__ import annotations

from typing import Iterator

import pytest

from rag import Answer, Citation

from .test_app import Server, answers, ask, browser, client, css, open_app, screenshot, server_env, wait  # noqa: F401 (browser: fixture)

TOP5_Q = "Which posters were rated top 5%?"


@pytest.fixture(scope="module")
def server(full_settings, tmp_path_factory) -> Iterator[Server]:
    s = Server([], server_env(full_settings), tmp_path_factory.mktemp("app-lists") / "app.log")
    try:
        s.wait_ready()
        yield s
    finally:
        s.stop()


def test_list_answer_html_is_an_ordered_list_with_linked_markers():
    import app

    answer = Answer(question="q", text="2 papers rated top 5%:\n[1] A <b>title</b> — Ann · top 5% paper\n[2] B — Bob\nPages 3 list no authors.",
                    citations=(Citation(1, "p1", "A <b>title</b>", "Authors: Ann.", None), Citation(2, "p2", "B", "Authors: Bob.", None)),
                    abstained=False, generator="listing", route="metadata", timings={"total_ms": 3.0})
    out = app.render_answer(answer, turn=2)
    assert "\n" not in out and "<b>title</b>" not in out and "&lt;b&gt;title&lt;/b&gt;" in out
    assert out.count("<li") == 2 and '<ol class="rag-list">' in out
    assert 'href="#cite-2-1"' in out and 'href="#cite-2-2"' in out
    assert '<div class="rag-list-lead">2 papers rated top 5%:</div>' in out and "rag-list-note" in out
    assert app.LISTING_LABEL in out


def test_field_answer_is_labelled_as_one_papers_listing(assistant):
    import app

    out = app.render_answer(assistant.ask("Who wrote the PIXEL paper?"), turn=1)
    assert "listing field" in out and "relevance bar" not in out and 'href="#cite-1-1"' in out
    assert "Phillip Rust" in out


def test_api_papers_and_ask_route(server, assistant):
    c = client(server)
    assert "/papers" in c.view_api(print_info=False, return_format="dict")["named_endpoints"]
    result = c.predict(author="Micah Goldblum", api_name="/papers")
    assert result["count"] == 3 and result["count"] == len(assistant.listings().search(author="Micah Goldblum"))
    assert {p["title"] for p in result["papers"]} >= {"The Lie Derivative for Measuring Learned Equivariance"}
    assert c.predict(tier="top 5%", award="any", api_name="/papers")["count"] == 2
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="unknown tier"):
        c.predict(tier="spotlight", api_name="/papers")
    asked = c.predict(TOP5_Q, api_name="/ask")
    assert asked["route"] == "metadata" and len(asked["citations"]) == 11


def test_browser_list_answer_opens_each_cited_paper(server, browser, assistant):
    driver = browser()
    open_app(driver, server)
    heading = css(driver, "#rag-heading")[0].text
    assert assistant.listings().describe(short=True) in heading and "ICLR 2023" not in heading
    answer = ask(driver, TOP5_Q)
    rows = answer.find_elements("css selector", "ol.rag-list li")
    expected = [c.title for c in assistant.ask(TOP5_Q).citations]
    assert len(rows) == 11 and [r.text.split("] ", 1)[1].split(" — ")[0] for r in rows] == expected
    assert "listing metadata" in answer.text
    last = rows[-1].find_elements("css selector", "a.rag-cite")
    assert [a.text for a in last] == ["11"]
    last[0].click()
    wait(driver, lambda d: expected[-1] in css(d, "#rag-sources")[0].text, what="the 11th paper in the source panel")
    panel = css(driver, "#rag-sources")[0]
    assert "listing details" in panel.text and "top 5% paper" in panel.text
    screenshot(driver, "ui-list-answer.png")
