"""The from-scratch build yields a real LayoutLMv3 model + processor that reload offline."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from PIL import Image, ImageDraw  # noqa: E402

from layoutlmv3_triton.training import scratch  # noqa: E402

LABELS = ["O", "B-HEADER", "I-HEADER", "B-QUESTION", "I-QUESTION", "B-ANSWER", "I-ANSWER"]
CORPUS = [
    "REGISTRATION FORM Name: John Smith Date: 12/03/2020 Phone: 555-0134",
    "Company: Acme Research Inc. Address: 42 Main Street, Springfield",
    "Total amount due: $1,234.00 Signature: Approved by the board",
] * 30


def test_presets_split_hidden_size():
    for name in scratch.PRESETS:
        cfg = scratch.make_config(name, LABELS, vocab_size=1000)
        assert 4 * cfg.coordinate_size + 2 * cfg.shape_size == cfg.hidden_size
        assert cfg.max_position_embeddings == 514 and cfg.pad_token_id == 1


def test_unknown_preset_is_a_clear_error():
    with pytest.raises(scratch.ScratchError, match="unknown preset"):
        scratch.make_config("huge", LABELS, vocab_size=1000)


def test_tokenizer_round_trips_words():
    tok = scratch.train_tokenizer(CORPUS, vocab_size=600)
    assert tok.pad_token_id == 1 and tok.cls_token_id == 0 and tok.sep_token_id == 2
    words = ["Name:", "John", "Smith", "Zyxwvut", "€42"]  # unseen words still encode (byte-level)
    enc = tok(words, boxes=[[0, 0, 10, 10]] * len(words))
    text = tok.decode(enc["input_ids"], skip_special_tokens=True)
    for w in words:
        assert w in text
    assert tok.unk_token_id not in enc["input_ids"]


def test_build_from_scratch_reloads_and_runs(tmp_path):
    import torch
    from transformers import LayoutLMv3ForTokenClassification, LayoutLMv3Processor

    out = scratch.build_from_scratch(tmp_path / "m", CORPUS, LABELS, preset="tiny", vocab_size=600)
    model = LayoutLMv3ForTokenClassification.from_pretrained(out)
    processor = LayoutLMv3Processor.from_pretrained(out)
    assert model.config.id2label == dict(enumerate(LABELS))
    assert model.config.label2id == {label: i for i, label in enumerate(LABELS)}

    image = Image.new("RGB", (800, 1000), "white")
    ImageDraw.Draw(image).text((50, 50), "Name: John", fill="black")
    words = ["Name:", "John", "Smith"]
    boxes = [[50, 50, 120, 70], [130, 50, 200, 70], [210, 50, 990, 70]]
    enc = processor(image, words, boxes=boxes, return_tensors="pt", truncation=True, max_length=512)
    assert enc["pixel_values"].shape == (1, 3, 224, 224)
    with torch.no_grad():
        logits = model(**enc).logits
    assert logits.shape == (1, enc["input_ids"].shape[1], len(LABELS))
    assert torch.isfinite(logits).all()


def test_init_model_is_reproducible():
    a = scratch.init_model("tiny", LABELS, vocab_size=300, seed=3)
    b = scratch.init_model("tiny", LABELS, vocab_size=300, seed=3)
    for (na, pa), (_, pb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert (pa == pb).all(), na


def test_layout_tables_start_smooth():
    """Neighbouring coordinates start with similar embeddings (sinusoids), far ones do not."""
    import torch

    model = scratch.init_model("tiny", LABELS, vocab_size=300)
    x = model.layoutlmv3.embeddings.x_position_embeddings.weight
    cos = torch.nn.functional.cosine_similarity
    assert cos(x[500], x[501], dim=0) > 0.9
    assert cos(x[500], x[900], dim=0) < cos(x[500], x[501], dim=0)
    assert model.layoutlmv3.embeddings.position_embeddings.weight[1].abs().sum() == 0  # padding row
    plain = scratch.init_model("tiny", LABELS, vocab_size=300, sinusoidal_layout=False)
    assert (
        cos(
            plain.layoutlmv3.embeddings.x_position_embeddings.weight[500],
            plain.layoutlmv3.embeddings.x_position_embeddings.weight[501],
            dim=0,
        )
        < 0.5
    )


def test_broad_tokenizer_corpus_covers_english_in_every_case():
    """The from-scratch tokenizer reads real words: its corpus holds frequent English words by
    frequency, in lower, Capitalised and UPPER case, and the dictionary's words."""
    from layoutlmv3_triton.synth.words import dictionary_words, english_corpus

    lines = english_corpus()
    counts: dict[str, int] = {}
    for line in lines[:2000]:
        for word in line.split():
            counts[word] = counts.get(word, 0) + 1
    assert counts.get("the", 0) > counts.get("report", 0) > 0
    assert "THE" in counts and "The" in counts
    if dictionary_words():
        assert len(lines) > 1000
