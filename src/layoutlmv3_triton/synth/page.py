"""The synthetic page record and the FUNSD label set."""

from __future__ import annotations

from dataclasses import dataclass, field

from PIL import Image

from layoutlmv3_triton.errors import LayoutLMv3TritonError

# Same names and order as the FUNSD datasets most users load (e.g. nielsr/funsd-layoutlmv3).
FUNSD_LABELS = ["O", "B-HEADER", "I-HEADER", "B-QUESTION", "I-QUESTION", "B-ANSWER", "I-ANSWER"]

Box = tuple[int, int, int, int]


class SynthError(LayoutLMv3TritonError, ValueError):
    """Synthetic data was asked for with impossible settings (size, count, ...)."""


@dataclass
class SynthPage:
    """One rendered page: image plus every word with its pixel box and FUNSD label.

    ``boxes`` are pixel ``(x0, y0, x1, y1)`` in ``image`` coordinates, tight around the
    ink of each word (after any rotation, the axis-aligned box that encloses it).
    """

    id: str
    image: Image.Image
    words: list[str] = field(default_factory=list)
    boxes: list[Box] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    noisy: bool = False  # degraded like a scan; stored as JPEG (grain makes PNG ~1.4 MB a page)
    entity_ids: list[int] = field(default_factory=list)  # per word: the entity (segment) it belongs to
    links: list[tuple[int, int]] = field(default_factory=list)  # (question entity id, answer entity id)

    @property
    def text(self) -> str:
        return " ".join(self.words)

    def normalized_boxes(self, scale: int = 1000) -> list[list[int]]:
        """Boxes in LayoutLMv3's 0..``scale`` space, clamped (rounding can touch the edge)."""
        w, h = self.image.size
        out = []
        for x0, y0, x1, y1 in self.boxes:
            out.append(
                [min(scale, max(0, round(v))) for v in (x0 * scale / w, y0 * scale / h, x1 * scale / w, y1 * scale / h)]
            )
        return out


def bio_labels(n_words: int, entity: str | None) -> list[str]:
    """``B-X I-X ...`` for an entity of ``n_words`` words, or ``O`` for each word."""
    if entity is None:
        return ["O"] * n_words
    return [f"B-{entity}"] + [f"I-{entity}"] * (n_words - 1) if n_words else []
