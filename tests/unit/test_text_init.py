"""`train --init-from`: LayoutLMv3 started from a BERT-family text checkpoint.

A tiny BERT with a WordPiece tokenizer is written here (random weights, a vocabulary of a
few dozen words), so no download and no wheel is needed.
"""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("tokenizers")
transformers = pytest.importorskip("transformers")

from layoutlmv3_triton.training.text_init import (  # noqa: E402
    TextInitError,
    init_from_text_model,
    load_tokenizer,
    locate,
)

WORDS = [
    "date",
    "name",
    "form",
    "total",
    "invoice",
    "page",
    "to",
    "from",
    "the",
    "of",
    "12",
    "04",
    "87",
    "love",
    "##lace",
    "##s",
    ":",
    "/",
    "-",
    ".",
    ",",
    "a",
    "b",
    "c",
]
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
LABELS = ["O", "B-QUESTION", "I-QUESTION", "B-ANSWER", "I-ANSWER"]


def write_tiny_bert(folder, hidden: int = 48):
    """A BERT checkpoint folder as transformers saves one: config, safetensors, tokenizer.json."""
    from tokenizers import Tokenizer, normalizers, pre_tokenizers, processors
    from tokenizers.models import WordPiece

    folder.mkdir(parents=True, exist_ok=True)
    vocab = {tok: i for i, tok in enumerate(SPECIALS + WORDS)}
    tok = Tokenizer(WordPiece(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    tok.enable_truncation(128)  # as sentence-transformers saves it: must not limit the pages
    tok.save(str(folder / "tokenizer.json"))
    (folder / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "tokenizer_class": "BertTokenizer",
                "do_lower_case": True,
                "unk_token": "[UNK]",
                "sep_token": "[SEP]",
                "pad_token": "[PAD]",
                "cls_token": "[CLS]",
                "mask_token": "[MASK]",
                "model_max_length": 512,
            }
        )
    )
    config = transformers.BertConfig(
        vocab_size=len(vocab),
        hidden_size=hidden,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=2 * hidden,
        max_position_embeddings=64,
        pad_token_id=vocab["[PAD]"],
    )
    torch.manual_seed(0)
    transformers.BertModel(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    return write_tiny_bert(tmp_path_factory.mktemp("text-model") / "tiny-bert")


def test_text_stack_computes_what_the_bert_computes(tiny_bert):
    """With the new layout parts silenced, LayoutLMv3's text stack equals the BERT it came from:
    the weights landed on the right names and the positions are shifted by padding_idx + 1."""
    model, processor, facts = init_from_text_model(tiny_bert, LABELS)
    bert = transformers.BertModel.from_pretrained(str(tiny_bert)).eval()
    enc = processor.tokenizer(
        ["Date:", "12/04/87", "Lovelace", "invoices"], boxes=[[0, 0, 0, 0]] * 4, return_tensors="pt"
    )
    ids = enc["input_ids"]
    with torch.no_grad():
        reference = bert(input_ids=ids).last_hidden_state
        emb = model.layoutlmv3.embeddings
        for table in (
            emb.x_position_embeddings,
            emb.y_position_embeddings,
            emb.h_position_embeddings,
            emb.w_position_embeddings,
        ):
            table.weight.zero_()
        for name, param in model.layoutlmv3.encoder.named_parameters():
            if "rel_pos" in name:
                param.zero_()
        got = model.layoutlmv3(input_ids=ids, bbox=torch.zeros(1, ids.shape[1], 4, dtype=torch.long)).last_hidden_state
    assert torch.allclose(got, reference, atol=1e-5)
    assert facts["text_model_type"] == "bert" and facts["tensors_copied"] > 0
    assert model.config.pad_token_id == 0 and model.config.max_position_embeddings == 64 + 1
    assert model.config.id2label[1] == "B-QUESTION"


def test_tokenizer_takes_words_with_boxes_and_ignores_the_saved_limit(tiny_bert):
    tokenizer = load_tokenizer(locate(tiny_bert))
    enc = tokenizer(["Date:", "Lovelace"] * 100, boxes=[[1, 2, 3, 4]] * 200, word_labels=[1, 3] * 100)
    assert tokenizer.convert_ids_to_tokens(enc["input_ids"][:6]) == ["[CLS]", "date", ":", "love", "##lace", "date"]
    assert len(enc["input_ids"]) > 128  # the 128-token truncation saved in tokenizer.json is gone
    assert enc["labels"][:5] == [-100, 1, -100, 3, -100]  # first sub-token of each word labelled


def test_saved_folder_serves_through_the_page_encoder(tmp_path, tiny_bert):
    """The processor saved with the model is what the preprocess step loads."""
    from PIL import Image

    from layoutlmv3_triton.serving.encoding import PageEncoder

    model, processor, _ = init_from_text_model(tiny_bert, LABELS)
    model.save_pretrained(tmp_path)
    processor.save_pretrained(tmp_path)
    window = PageEncoder(tmp_path).encode(
        Image.new("RGB", (200, 100), "white"), ["Total:", "12/04/87"], [[10, 10, 60, 20], [70, 10, 150, 20]]
    )
    n = int(window.attention_mask.sum())
    assert window.input_ids[0] == 2 and window.input_ids[n - 1] == 3  # [CLS] ... [SEP]
    assert window.input_ids[n:].tolist() == [0] * (len(window.input_ids) - n)  # BERT's [PAD] is 0
    assert window.word_ids[:n].tolist() == [-1, 0, 0, 1, 1, 1, 1, 1, -1]
    reloaded = transformers.LayoutLMv3ForTokenClassification.from_pretrained(str(tmp_path))
    with torch.no_grad():
        logits = reloaded(**{k: torch.from_numpy(v)[None] for k, v in window.model_inputs().items()}).logits
    assert logits.shape == (1, len(window.input_ids), len(LABELS))


def test_an_installed_distribution_is_found_by_its_files(tmp_path, tiny_bert, monkeypatch):
    """`--init-from NAME`: the model folder is looked up among the distribution's files."""
    import shutil

    site = tmp_path / "site"
    package = site / "fake_text_model" / "model"
    shutil.copytree(tiny_bert, package)
    info = site / "fake_text_model-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-text-model\nVersion: 0.1\n")
    files = [p.relative_to(site).as_posix() for p in package.iterdir()]
    (info / "RECORD").write_text("".join(f"{f},,\n" for f in files))
    monkeypatch.syspath_prepend(str(site))
    assert locate("fake-text-model").folder == package
    with pytest.raises(TextInitError, match="neither a folder nor an installed distribution"):
        locate("no-such-text-model")


def test_a_model_of_another_family_is_refused(tmp_path, tiny_bert):
    import shutil

    other = tmp_path / "gpt"
    shutil.copytree(tiny_bert, other)
    config = json.loads((other / "config.json").read_text())
    (other / "config.json").write_text(json.dumps({**config, "model_type": "gpt2"}))
    with pytest.raises(TextInitError, match="BERT or RoBERTa family"):
        locate(other)
