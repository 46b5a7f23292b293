"""`make demo` prints what users came for: each page's fields (question -> answer), then its entities."""

from __future__ import annotations

from layoutlmv3_triton.commands.demo import print_page


def test_page_prints_fields_before_entities(capsys):
    page = {
        "width": 900,
        "height": 600,
        "words": [{}] * 5,
        "entities": [
            {"label": "QUESTION", "score": 0.91, "box": [40, 100, 120, 128], "text": "Name:"},
            {"label": "ANSWER", "score": 0.88, "box": [140, 100, 300, 128], "text": "Ada Lovelace"},
            {"label": "HEADER", "score": 0.7, "box": [40, 40, 300, 70], "text": "R" * 60},
        ],
        "fields": [{"key": "Name:", "value": "Ada Lovelace", "score": 0.8}],
    }
    print_page("form.png", page, limit=2)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "form.png: 900x600 px, 5 words, 3 entities, 1 fields"
    assert out[1] == "  fields (question -> answer):"
    assert out[2].split() == ["Name:", "->", "Ada", "Lovelace", "0.80"]
    assert out[3] == "  entities:" and out[4].split()[:2] == ["QUESTION", "0.91"]
    assert out[-1] == "    ... and 1 more"


def test_page_without_fields_still_lists_entities(capsys):
    page = {"width": 10, "height": 10, "words": [], "entities": [], "fields": []}
    print_page("blank.png", page, limit=5)
    assert capsys.readouterr().out.splitlines() == ["blank.png: 10x10 px, 0 words, 0 entities, 0 fields", "  entities:"]
