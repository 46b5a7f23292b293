"""The evaluation report as text and as a file: the per-label table, one line per page,
the ``entity_f1=`` line and a warning when the model's tags cannot match the dataset's."""

from __future__ import annotations

import json
from pathlib import Path


def label_mismatch(report: dict) -> str | None:
    """A warning when the model's tags do not cover the dataset's (entities could never match)."""
    model, data = report.get("model_labels"), report.get("dataset_labels") or []
    if not model:
        return None
    missing = [t for t in data if t not in model]
    if missing:
        return f"the model has no tags {missing} of the dataset; those entities can never be found"
    return None


def format_table(report: dict) -> str:
    """The per-label table plus overall (micro) and macro rows, as plain text."""
    head = f"{'label':<12} {'precision':>9} {'recall':>7} {'f1':>7} {'gold':>6} {'pred':>6} {'correct':>7}"
    lines = [head, "-" * len(head)]

    def row(name: str, s: dict) -> str:
        return (
            f"{name:<12} {s['precision']:>9.4f} {s['recall']:>7.4f} {s['f1']:>7.4f} "
            f"{s['gold']:>6} {s['predicted']:>6} {s['correct']:>7}"
        )

    for name, s in report["per_label"].items():
        lines.append(row(name, s))
    lines.append("-" * len(head))
    lines.append(row("overall", report["entity"]))
    lines.append(f"{'macro f1':<12} {'':>9} {'':>7} {report['macro_f1']:>7.4f}")
    lines.append("")
    lines.append(
        f"pages {report['pages']} (failed {report['pages_failed']}), "
        f"{report['pages_per_second'] or 0:.2f} pages/s at concurrency {report['concurrency']}"
    )
    lines.append(
        f"OCR word recall by box {report['word_recall_box']:.4f}, by box and text "
        f"{report['word_recall_box_text']:.4f} ({report['matched_gt_words']} and "
        f"{report['text_matched_gt_words']} of {report['gt_words']} ground-truth words), "
        f"word accuracy {report['word_accuracy']:.4f}"
    )
    return "\n".join(lines)


def format_per_page(report: dict) -> str:
    """One line per page: word recalls and entity P/R/F1 (``evaluate --per-page``)."""
    head = f"{'page':<16} {'words':>5} {'box':>6} {'box+text':>8} {'precision':>9} {'recall':>7} {'f1':>7}  error"
    lines = [head, "-" * len(head)]
    for p in report["per_page"]:

        def num(key: str, width: int) -> str:
            value = p.get(key)
            return f"{value:>{width}.4f}" if value is not None else f"{'-':>{width}}"

        lines.append(
            f"{p['id'][:16]:<16} {p['gt_words']:>5} {num('word_recall_box', 6)} "
            f"{num('word_recall_box_text', 8)} {num('entity_precision', 9)} {num('entity_recall', 7)} "
            f"{num('entity_f1', 7)}  {p['error'] or ''}".rstrip()
        )
    return "\n".join(lines)


def f1_line(report: dict) -> str:
    """The last line of ``layoutlmv3-triton evaluate``: ``entity_f1=0.xxxx``."""
    return f"entity_f1={report['entity']['f1']:.4f}"


def write_report(report: dict, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    return path
