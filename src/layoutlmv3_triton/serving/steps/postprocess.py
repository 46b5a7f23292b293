"""Postprocess step: logits + token->word map -> labelled words and entities (JSON).

Rows arrive one per sequence.  A row with page JSON starts a page (its further windows
carry none), and page 0 starts a document: one result per document of the request.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from layoutlmv3_triton import contract
from layoutlmv3_triton.serving.decoding import page_result, softmax
from layoutlmv3_triton.errors import DecodingError
from layoutlmv3_triton.serving.labels import load_id2label
from layoutlmv3_triton.serving.linking import LINKER_FILE, load_linker
from layoutlmv3_triton.serving.windows import merge_word_probabilities
from layoutlmv3_triton.serving.steps import triton_io
from layoutlmv3_triton.serving.steps.triton_io import ModelArgs

STAGE = "postprocess"


class Postprocessor:
    def __init__(self, model_config_path: str | Path, model_name: str = contract.ENSEMBLE):
        self.id2label = load_id2label(model_config_path)
        self.linker = load_linker(Path(model_config_path).with_name(LINKER_FILE))  # geometric rules if absent
        self.model_name = model_name

    def page(self, window_logits: list[np.ndarray] | np.ndarray, window_word_ids: list[np.ndarray] | np.ndarray,
             page_words: dict) -> dict:
        """One page from the logits and word maps of its windows (a single array: one window)."""
        if isinstance(window_logits, np.ndarray) and window_logits.ndim == 2:
            window_logits, window_word_ids = [window_logits], [window_word_ids]
        n_labels = window_logits[0].shape[-1]
        if n_labels != len(self.id2label):
            raise DecodingError(f"model gave {n_labels} logits per token but config.json names {len(self.id2label)} labels")
        words = page_words["words"]
        probs = [softmax(np.asarray(logits, dtype=np.float32)) for logits in window_logits]
        label_ids, scores = merge_word_probabilities(probs, window_word_ids, len(words))
        return page_result(words, page_words["boxes"], label_ids, scores, self.id2label,
                           width=page_words["width"], height=page_words["height"],
                           confidences=page_words.get("confidences"), page=page_words.get("page", 0),
                           source=page_words.get("source", "ocr"), linker=self.linker)

    def document(self, pages: list[dict]) -> bytes:
        return json.dumps({"model": self.model_name, "labels": self.id2label, "pages": pages}).encode()

    def documents(self, logits: np.ndarray, word_ids: np.ndarray, page_words: np.ndarray) -> list[bytes]:
        """All documents of one request from its rows."""
        pages: list[tuple[dict, list[int]]] = []
        for row, value in enumerate(page_words.reshape(-1)):
            if value is not None and len(value):
                pages.append((parse_page_words(value), [row]))
            elif pages:
                pages[-1][1].append(row)
            else:
                raise DecodingError(f"row {row} continues a page that never started")
        docs: list[list[dict]] = []
        for meta, rows in pages:
            if meta.get("page", 0) == 0 or not docs:
                docs.append([])
            docs[-1].append(self.page([logits[r] for r in rows], [word_ids[r] for r in rows], meta))
        return [self.document(doc) for doc in docs]


def parse_page_words(value) -> dict:
    try:
        page_words = json.loads(value if isinstance(value, (bytes, str)) else bytes(value))
        if not isinstance(page_words, dict) or len(page_words["words"]) != len(page_words["boxes"]):
            raise ValueError("words and boxes differ in length")
        return page_words
    except (ValueError, KeyError, TypeError) as exc:
        raise DecodingError(f"malformed {contract.PAGE_WORDS.name}: {exc}") from exc


class TritonPythonModel:
    def initialize(self, args):
        self.args = ModelArgs(args)
        config_file = self.args.parameters.get("model_config_file", contract.MODEL_CONFIG_FILE)
        self.post = Postprocessor(self.args.version_dir / config_file)

    def _build(self, request) -> dict[str, np.ndarray]:
        logits = triton_io.require_input(request, contract.LOGITS.name, STAGE)
        word_ids = triton_io.require_input(request, contract.WORD_IDS.name, STAGE)
        page_words = triton_io.require_input(request, contract.PAGE_WORDS.name, STAGE)
        if not (logits.shape[0] == word_ids.shape[0] == page_words.shape[0]):
            raise DecodingError(f"batch sizes differ: logits {logits.shape[0]}, word_ids {word_ids.shape[0]}, "
                                f"page_words {page_words.shape[0]}")
        return {contract.RESULT.name: triton_io.bytes_array(self.post.documents(logits, word_ids, page_words))}

    def execute(self, requests):
        return triton_io.respond_each(requests, STAGE, self._build)
