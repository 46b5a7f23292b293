"""Measure a trained model the way docs/evaluation.md reports the demo model, into a figures file.

For the model folder given (``make model`` writes artifacts/demo-model), it records:

- real forms: entity F1 served through the ensemble (Tesseract words) on FUNSD-layout forms
  (``--funsd``, never part of the repository), also over the first 10 forms (the floor test's
  sample), and on their ground-truth words in process (FUNSD's metric: each word's first
  sub-token, at the box level the model was trained with);
- held-out synthetic pages (``--synthetic``, seed 3 in the recipe): entity F1 served;
- tokens per real-form word (the model's own tokenizer);
- training time and options from its training_summary.json.

The repository is built with ``build-repo`` into ``--repository`` when it does not serve this
model yet.  ``--out`` gets the JSON; the recipe's file is docs/demo-model-figures.json, which
the README quotes (a unit test keeps them equal).  ``make demo``'s wall time is measured
separately and passed with ``--make-demo-seconds``.

    python scripts/measure_demo_model.py --model artifacts/demo-model --repository model_repository \\
        --funsd $FUNSD_DIR --synthetic artifacts/data/test --out docs/demo-model-figures.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

FLOOR_FORMS = 10  # tests/functional/test_demo_model_real_forms.py serves the first 10 forms


def gt_words_f1(model_dir: Path, data: str, threads: int) -> tuple[float, float]:
    """(entity F1 on the ground-truth words, tokens per word), the model run in process."""
    import torch
    from transformers import LayoutLMv3ForTokenClassification

    from layoutlmv3_triton.datasets.scoring import entity_scores
    from layoutlmv3_triton.serving.encoding import load_processor
    from layoutlmv3_triton.serving.segments import read_box_level
    from layoutlmv3_triton.training.data import encode_dataset, label_names, load_split
    from layoutlmv3_triton.training.module import word_sequences

    torch.set_num_threads(threads)
    processor = load_processor(model_dir)
    model = LayoutLMv3ForTokenClassification.from_pretrained(str(model_dir)).eval()
    ds = load_split(data=data, split="validation")
    names = label_names(ds)
    if [model.config.id2label[i] for i in range(len(names))] != names:
        raise SystemExit(f"the model's labels differ from the data's {names}")
    items = encode_dataset(ds, processor, box_level=read_box_level(model_dir / "config.json"))
    gold, pred = [], []
    with torch.no_grad():
        for item in items:
            batch = {k: v[None].float() if k == "pixel_values" else v[None] for k, v in item.items() if k != "labels"}
            g, p = word_sequences(item["labels"][None], model(**batch).logits, names)
            gold += g
            pred += p
    words = [w for row in ds["tokens"] for w in row]
    tokens = processor.tokenizer(words, boxes=[[0, 0, 0, 0]] * len(words), add_special_tokens=False)["input_ids"]
    return entity_scores(gold, pred)["overall"]["f1"], len(tokens) / len(words)  # words as one long sequence


def ensure_repository(model_dir: Path, repository: Path) -> None:
    from layoutlmv3_triton.repository.writer import build_repository

    manifest = repository / "build_manifest.json"
    if manifest.is_file():
        built = json.loads(manifest.read_text())
        if (
            Path(built.get("source_model", "")).resolve() == model_dir.resolve()
            and manifest.stat().st_mtime > (model_dir / "config.json").stat().st_mtime
        ):
            return
    print(f"building {repository} from {model_dir} ...", flush=True)
    build_repository(model_dir, repository)


def served(repository: Path, datasets: dict[str, tuple[str, str | None]], concurrency: int) -> dict:
    from layoutlmv3_triton.datasets.scoring import entity_scores
    from layoutlmv3_triton.local.server import LocalTritonServer
    from layoutlmv3_triton.measure.evaluation import EvalConfig, evaluate

    out = {}
    with LocalTritonServer(repository) as server:
        for name, (data, split) in datasets.items():
            started = time.monotonic()
            run = evaluate(
                EvalConfig(url=server.grpc_url, data=data, split=split, concurrency=concurrency, progress=False)
            )
            r = run.report
            first = run.pages[:FLOOR_FORMS]
            out[name] = {
                "pages": r["pages"],
                "pages_failed": r["pages_failed"],
                "entity_f1": round(r["entity"]["f1"], 4),
                "precision": round(r["entity"]["precision"], 4),
                "recall": round(r["entity"]["recall"], 4),
                "predicted": r["entity"]["predicted"],
                "gold": r["entity"]["gold"],
                "per_label_f1": {k: round(v["f1"], 4) for k, v in r["per_label"].items()},
                f"first_{FLOOR_FORMS}_entity_f1": round(
                    entity_scores([p.gold for p in first], [p.pred for p in first])["overall"]["f1"], 4
                ),
                "pair_f1": round(r["pairs"]["end_to_end"]["f1"], 4) if "pairs" in r else None,
                "seconds": round(time.monotonic() - started, 1),
            }
            print(name, out[name], flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--repository", type=Path, required=True, help="built here unless it serves --model already")
    p.add_argument("--funsd", default=os.environ.get("FUNSD_DIR"), help="real forms in FUNSD's layout ($FUNSD_DIR)")
    p.add_argument("--funsd-split", default="training")
    p.add_argument("--synthetic", help="held-out synthetic pages (artifacts/data/test)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--recipe", default="demo", help="a name for the recipe measured")
    p.add_argument("--make-demo-seconds", type=float, help="`make demo` wall time, measured separately")
    p.add_argument("--machine", help="where the model was trained and timed, in words (default: the core count)")
    p.add_argument("--skip-served", action="store_true", help="only the in-process figures")
    p.add_argument("--concurrency", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    if not args.funsd:
        p.error("--funsd (or $FUNSD_DIR) is required: the figures are about real forms")
    split_folder = Path(args.funsd) / f"{args.funsd_split}_data"  # a FUNSD download, or the forms' folder itself
    funsd_root = str(split_folder) if split_folder.is_dir() else args.funsd
    summary = json.loads((args.model / "training_summary.json").read_text())
    f1, per_word = gt_words_f1(args.model, funsd_root, args.threads)
    figures = {
        "recipe": args.recipe,
        "model": summary.get("model"),
        "options": {k: v for k, v in summary.get("options", {}).items() if k not in ("out", "data", "val_data")},
        "parameters": summary.get("parameters"),
        "training_seconds": summary.get("seconds"),
        "global_steps": summary.get("global_steps"),
        "train_pages": summary.get("train_pages"),
        "synthetic_val_f1_gt_words": summary.get("best_val_f1"),
        "funsd_gt_words_entity_f1": round(f1, 4),
        "tokens_per_funsd_word": round(per_word, 3),
        "make_demo_seconds": args.make_demo_seconds,
        "machine": args.machine or f"{os.cpu_count()} CPU cores",
    }
    print(json.dumps(figures, indent=1), flush=True)
    if not args.skip_served:
        ensure_repository(args.model, args.repository)
        sets = {"funsd": (funsd_root, None)}
        if args.synthetic:
            sets["synthetic_test"] = (args.synthetic, None)
        figures["served"] = served(args.repository, sets, args.concurrency)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=1, sort_keys=True) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
