"""Lightning fine-tuning on tiny settings: loss goes down, output reloads, hub path works."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("lightning")
datasets = pytest.importorskip("datasets")
pytest.importorskip("seqeval")

from layoutlmv3_triton import synth  # noqa: E402
from layoutlmv3_triton.datasets.scoring import entity_scores  # noqa: E402
from layoutlmv3_triton.training import TrainConfig, TrainingError, train  # noqa: E402
from layoutlmv3_triton.training.data import (  # noqa: E402
    LABEL_PAD,
    Collator,
    DatasetError,
    FunsdDataModule,
    label_names,
    load_split,
)
from layoutlmv3_triton.training.module import TokenClassifier, word_sequences  # noqa: E402
from layoutlmv3_triton.training.ocr_labels import label_ocr_words  # noqa: E402


@pytest.fixture(scope="module")
def data_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    train_dir = synth.write_dataset(root / "train", n=12, seed=101)
    val_dir = synth.write_dataset(root / "val", n=4, seed=202)
    return train_dir, val_dir


@pytest.fixture(scope="module")
def hub_standin(tmp_path_factory, data_dirs):
    """A folder in the hub's parquet layout (data/<split>-*.parquet), as load_dataset(name) reads it."""
    root = tmp_path_factory.mktemp("hub") / "funsd-standin"
    (root / "data").mkdir(parents=True)
    datasets.load_from_disk(str(data_dirs[0])).to_parquet(str(root / "data" / "train-00000-of-00001.parquet"))
    datasets.load_from_disk(str(data_dirs[1])).to_parquet(str(root / "data" / "test-00000-of-00001.parquet"))
    return root


def tiny_config(out, **kw) -> TrainConfig:
    base = dict(
        out=str(out),
        from_scratch=True,
        preset="tiny",
        vocab_size=600,
        epochs=1,
        batch_size=4,
        progress=False,
        threads=2,
        tokenizer_corpus="data",
    )  # the broad corpus costs ~20 s a tokenizer
    base.update(kw)
    return TrainConfig(**base)


def test_few_steps_lower_the_loss(data_dirs):
    import lightning as L

    from layoutlmv3_triton.training import scratch

    ds = load_split(data=str(data_dirs[0]))
    labels = label_names(ds)
    tokenizer = scratch.train_tokenizer([" ".join(t) for t in ds["tokens"]], vocab_size=600)
    processor = scratch.make_processor(tokenizer)
    model = scratch.init_model("tiny", labels, vocab_size=len(tokenizer), seed=0)
    dm = FunsdDataModule(ds.select(range(8)), ds.select(range(8, 12)), processor, batch_size=4)
    dm.setup("fit")
    batch = dm.collate(dm.train_items[:4])

    def loss() -> float:
        model.eval()
        with torch.no_grad():
            return float(model(**batch).loss)

    before = loss()
    model.train()
    module = TokenClassifier(model, labels, lr=3e-3, warmup_ratio=0.0, total_steps=30)
    L.seed_everything(0, verbose=False)
    trainer = L.Trainer(
        max_steps=30,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=0,
    )
    trainer.fit(module, train_dataloaders=dm.train_dataloader())
    after = loss()
    assert after < before * 0.8, (before, after)


def test_train_saves_a_from_pretrained_folder_and_skips_when_unchanged(tmp_path, data_dirs):
    from PIL import Image
    from transformers import LayoutLMv3ForTokenClassification, LayoutLMv3Processor

    out = tmp_path / "model"
    cfg = tiny_config(out, data=str(data_dirs[0]), val_data=str(data_dirs[1]), max_steps=4, skip_if_unchanged=True)
    summary = train(cfg)
    assert summary["skipped"] is False and summary["global_steps"] == 4
    assert summary["labels"] == synth.FUNSD_LABELS and 0.0 <= summary["best_val_f1"] <= 1.0
    on_disk = json.loads((out / "training_summary.json").read_text())
    for key in ("best_val_f1", "epochs", "seconds", "parameters", "dataset_fingerprints", "fingerprint"):
        assert key in on_disk
    assert on_disk["parameters"] > 0
    assert (out / "logs" / "metrics.csv").exists()
    assert not (out / ".checkpoints").exists()

    model = LayoutLMv3ForTokenClassification.from_pretrained(out)
    processor = LayoutLMv3Processor.from_pretrained(out)
    assert model.config.id2label == dict(enumerate(synth.FUNSD_LABELS))
    enc = processor(
        Image.new("RGB", (500, 600), "white"),
        ["Name:", "Ada"],
        boxes=[[10, 10, 90, 30], [100, 10, 160, 30]],
        return_tensors="pt",
    )
    with torch.no_grad():
        assert model(**enc).logits.shape[-1] == len(synth.FUNSD_LABELS)

    again = train(cfg)
    assert again["skipped"] is True and again["fingerprint"] == summary["fingerprint"]
    changed = train(
        tiny_config(out, data=str(data_dirs[0]), val_data=str(data_dirs[1]), max_steps=5, skip_if_unchanged=True)
    )
    assert changed["skipped"] is False and changed["fingerprint"] != summary["fingerprint"]


def test_hub_code_path_with_local_standin(tmp_path, hub_standin):
    train_split = load_split(dataset=str(hub_standin), split="train")
    test_split = load_split(dataset=str(hub_standin), split="test")
    assert label_names(train_split) == synth.FUNSD_LABELS
    assert len(train_split) == 12 and len(test_split) == 4
    summary = train(tiny_config(tmp_path / "m", dataset=str(hub_standin), max_steps=2))
    assert summary["val_source"] == "dataset-test-split" and summary["val_pages"] == 4


def test_held_out_split_without_validation_data(tmp_path, data_dirs):
    summary = train(tiny_config(tmp_path / "m", data=str(data_dirs[0]), max_steps=2, val_fraction=0.25))
    assert summary["train_pages"] == 9 and summary["val_pages"] == 3


def test_clear_errors(tmp_path, data_dirs):
    with pytest.raises(TrainingError, match="exactly one of --data"):
        train(TrainConfig(out=str(tmp_path), from_scratch=True))
    with pytest.raises(TrainingError, match="exactly one of --model"):
        train(TrainConfig(out=str(tmp_path), data=str(data_dirs[0])))
    with pytest.raises(DatasetError, match="no dataset folder"):
        train(tiny_config(tmp_path / "m", data=str(tmp_path / "missing")))
    plain = datasets.Dataset.from_dict({"tokens": [["a"]]})
    plain.save_to_disk(str(tmp_path / "plain"))
    with pytest.raises(DatasetError, match="lacks FUNSD columns"):
        load_split(data=str(tmp_path / "plain"))


def test_word_sequences_use_first_subtokens_only():
    names = ["O", "B-Q", "I-Q"]
    labels = torch.tensor([[LABEL_PAD, 1, LABEL_PAD, 2, 0, LABEL_PAD]])
    logits = torch.zeros(1, 6, 3)
    logits[0, 1, 1] = logits[0, 2, 0] = logits[0, 3, 0] = logits[0, 4, 0] = 5.0
    gold, pred = word_sequences(labels, logits, names)
    assert gold == [["B-Q", "I-Q", "O"]] and pred == [["B-Q", "O", "O"]]
    scores = entity_scores(gold, pred)["overall"]
    assert scores["precision"] == 0.0 and scores["recall"] == 0.0
    assert entity_scores(gold, gold)["overall"]["f1"] == 1.0


def test_collator_pads_per_batch():
    a = {
        "input_ids": torch.tensor([0, 5, 2]),
        "attention_mask": torch.ones(3, dtype=torch.long),
        "bbox": torch.ones(3, 4, dtype=torch.long),
        "labels": torch.tensor([-100, 1, -100]),
        "pixel_values": torch.zeros(3, 224, 224, dtype=torch.float16),
    }
    b = {k: v[:2] if k != "pixel_values" else v for k, v in a.items()}
    batch = Collator(pad_token_id=1)([a, b])
    assert batch["input_ids"].tolist() == [[0, 5, 2], [0, 5, 1]]
    assert batch["attention_mask"][1].tolist() == [1, 1, 0]
    assert batch["labels"][1, 2] == LABEL_PAD and batch["bbox"].shape == (2, 3, 4)
    assert batch["pixel_values"].dtype == torch.float32


def test_token_dropout_hides_words_but_never_special_tokens():
    torch.manual_seed(0)
    ids = torch.tensor([0] + list(range(10, 210)) + [2])
    item = {
        "input_ids": ids,
        "attention_mask": torch.ones_like(ids),
        "bbox": torch.zeros(len(ids), 4, dtype=torch.long),
        "labels": torch.zeros_like(ids),
        "pixel_values": torch.zeros(3, 224, 224, dtype=torch.float16),
    }
    batch = Collator(pad_token_id=1, mask_token_id=4, token_dropout=0.3, special_ids=(0, 1, 2, 3, 4))([item])
    out = batch["input_ids"][0]
    assert out[0] == 0 and out[-1] == 2
    hidden = (out == 4).float().mean().item()
    assert 0.15 < hidden < 0.45
    assert torch.equal(batch["labels"][0], item["labels"])  # labels are kept: the model must infer them
    assert torch.equal(Collator(pad_token_id=1)([item])["input_ids"][0], ids)  # off by default


def test_box_jitter_moves_whole_words_and_leaves_special_tokens():
    torch.manual_seed(0)
    words = [[100 + 14 * i, 200, 110 + 14 * i, 215] for i in range(60)]
    boxes = [[0, 0, 0, 0]] + [box for box in words for _ in range(2)] + [[0, 0, 0, 0]]  # 2 tokens a word
    ids = torch.tensor([0] + list(range(10, 130)) + [2])
    item = {
        "input_ids": ids,
        "attention_mask": torch.ones_like(ids),
        "bbox": torch.tensor(boxes),
        "labels": torch.zeros_like(ids),
        "pixel_values": torch.zeros(3, 224, 224, dtype=torch.float16),
    }
    short = {k: (v[:5] if k != "pixel_values" else v) for k, v in item.items()}  # padded in the batch
    batch = Collator(pad_token_id=1, special_ids=(0, 1, 2), box_jitter=3)([item, short])
    out = batch["bbox"][0]
    assert out[0].tolist() == [0, 0, 0, 0] and out[-1].tolist() == [0, 0, 0, 0]
    assert batch["bbox"][1, 5:].abs().sum() == 0  # padding keeps its zero boxes
    moved = out[1:-1]
    assert torch.equal(moved[0::2], moved[1::2])  # a word's tokens share one box
    shift = moved[0::2] - torch.tensor(words)
    assert shift.abs().max() <= 3 and (shift != 0).float().mean() > 0.5
    assert (moved[:, 2] >= moved[:, 0]).all() and (moved[:, 3] >= moved[:, 1]).all()
    assert torch.equal(Collator(pad_token_id=1)([item])["bbox"][0], item["bbox"])  # off by default


def test_ocr_words_take_labels_from_covering_ground_truth():
    gt_boxes = [(0, 0, 50, 10), (60, 0, 100, 10), (200, 0, 260, 10)]
    gt_labels = ["B-QUESTION", "I-QUESTION", "B-ANSWER"]
    # OCR split the first word, read a stray mark, lost nothing else
    ocr = [(0, 0, 24, 10), (26, 0, 50, 10), (60, 0, 100, 10), (150, 0, 155, 10), (200, 0, 260, 10)]
    assert label_ocr_words(ocr, gt_boxes, gt_labels) == ["B-QUESTION", "I-QUESTION", "I-QUESTION", "O", "B-ANSWER"]
    # the entity's first word was lost: its second word starts the entity
    assert label_ocr_words([(60, 0, 100, 10)], gt_boxes, gt_labels) == ["B-QUESTION"]


def test_ocr_relabelling_of_a_rendered_page(data_dirs):
    pytest.importorskip("tesserocr")
    from collections import Counter

    from layoutlmv3_triton.training.ocr_labels import relabel_with_ocr

    ds = load_split(data=str(data_dirs[1])).select(range(1))
    out = relabel_with_ocr(ds, fraction=1.0)
    assert out.features["ner_tags"] == ds.features["ner_tags"]
    tags = [synth.FUNSD_LABELS[t] for t in out[0]["ner_tags"]]
    # OCR may split or merge words (split_after), which shifts positions: compare as multisets.
    found = sum((Counter(out[0]["tokens"]) & Counter(ds[0]["tokens"])).values())
    assert found / len(ds[0]["tokens"]) > 0.8 and {"B-QUESTION", "B-ANSWER"} <= set(tags)


def test_makefile_trains_and_renders_the_demo_recipe():
    """`make data` / `make model` spell the recipes out for people; they must stay DEMO_RECIPE (the text
    model installs) and DEMO_SCRATCH_RECIPE (it does not), and the wheel's pin must be text_init's."""
    import argparse
    import re
    import shlex
    from pathlib import Path

    from layoutlmv3_triton.commands import train as train_command
    from layoutlmv3_triton.training.config import DEMO_NOISE, DEMO_PAGES, DEMO_RECIPE, DEMO_SCRATCH_RECIPE
    from layoutlmv3_triton.training.text_init import DEMO_TEXT_MODEL, DEMO_TEXT_MODEL_VERSION

    makefile = (Path(__file__).resolve().parents[2] / "Makefile").read_text().replace("\\\n", " ")
    for split, (pages, seed) in DEMO_PAGES.items():
        assert re.search(rf"synth --out \$\(DATA\)/{split} --n {pages} --seed {seed} --noise {DEMO_NOISE}\b", makefile)
    assert re.search(rf"^TEXT_MODEL := {DEMO_TEXT_MODEL}$", makefile, re.M)
    assert re.search(rf"^TEXT_MODEL_VERSION := {re.escape(DEMO_TEXT_MODEL_VERSION)}$", makefile, re.M)
    recipe = next(ln for ln in makefile.splitlines() if "layoutlmv3-triton train " in ln)
    commands = [part.split(";", 1)[0] for part in recipe.split("layoutlmv3-triton train")[1:]]
    parser = argparse.ArgumentParser()
    train_command.add_arguments(parser)
    for command, expected in zip(commands, (DEMO_RECIPE, DEMO_SCRATCH_RECIPE), strict=True):
        command = command.replace("$(TEXT_MODEL)", DEMO_TEXT_MODEL)  # checked against the Makefile above
        args = parser.parse_args(shlex.split(re.sub(r"\$\(([A-Z_]+)\)", r"\1", command)))
        for key, value in expected.items():
            assert getattr(args, key) == value, key
        assert args.out == "DEMO_MODEL" and args.skip_if_unchanged


def test_funsd_layout_folders_train_with_synthetic_pages(tmp_path, data_dirs):
    """`--data` takes FUNSD's own layout next to a synthetic folder, repeated with DIR*N; the
    model is the last step's and records the box level it was trained with."""
    import json

    from PIL import Image

    from layoutlmv3_triton.training.data import load_split

    form = tmp_path / "forms"
    (form / "annotations").mkdir(parents=True)
    (form / "images").mkdir()
    Image.new("RGB", (200, 100), "white").save(form / "images" / "f1.png")
    (form / "annotations" / "f1.json").write_text(
        json.dumps(
            {
                "form": [
                    {
                        "id": 0,
                        "label": "question",
                        "box": [10, 10, 60, 20],
                        "text": "Date:",
                        "linking": [[0, 1]],
                        "words": [{"text": "Date:", "box": [10, 10, 60, 20]}],
                    },
                    {
                        "id": 1,
                        "label": "answer",
                        "box": [70, 10, 150, 20],
                        "text": "May 1",
                        "linking": [[0, 1]],
                        "words": [{"text": "May", "box": [70, 10, 100, 20]}, {"text": "1", "box": [110, 10, 120, 20]}],
                    },
                    {
                        "id": 2,
                        "label": "other",
                        "box": [10, 50, 60, 60],
                        "text": "note",
                        "linking": [],
                        "words": [{"text": "note", "box": [10, 50, 60, 60]}],
                    },
                ]
            }
        )
    )
    ds = load_split(data=[str(data_dirs[0]), f"{form}*3"])
    synthetic = load_split(data=str(data_dirs[0]))
    assert len(ds) == len(synthetic) + 3
    real = ds[len(ds) - 1]
    assert real["tokens"] == ["Date:", "May", "1", "note"] and real["ner_tags"] == [3, 5, 6, 0]
    assert real["bboxes"][0] == [50, 100, 300, 200]
    summary = train(
        tiny_config(
            tmp_path / "m", data=[str(data_dirs[0]), f"{form}*2"], val_data=str(form), max_steps=3, box_level="line"
        )
    )
    assert summary["global_steps"] == 3 and summary["val_pages"] == 1
    assert json.loads((tmp_path / "m" / "config.json").read_text())["box_level"] == "line"
