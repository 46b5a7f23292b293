"""Postprocess step: logits + token->word map -> labelled words and entities (JSON).

Rows arrive one per window.  A window that carries a page record starts a page (the
page's further windows carry none), and page 0 starts a document: one result per
document of the request.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from layoutlmv3_triton import contract
from layoutlmv3_triton.serving.decoding import page_result, softmax
from layoutlmv3_triton.errors import DecodingError
from layoutlmv3_triton.records import PageRecord
from layoutlmv3_triton.serving.labels import load_id2label
from layoutlmv3_triton.serving.linking import LINKER_FILE, load_linker
from layoutlmv3_triton.serving.windows import merge_word_probabilities
from layoutlmv3_triton.serving.steps import triton_io
from layoutlmv3_triton.serving.steps.parameters import PostprocessParameters
from layoutlmv3_triton.serving.steps.diagnostics import HeapSnapshots
from layoutlmv3_triton.serving.steps.triton_io import ModelArgs

STAGE = "postprocess"


class Postprocessor:
    def __init__(self, model_config_path: str | Path, model_name: str = contract.ENSEMBLE):
        self.id2label = load_id2label(model_config_path)
        self.linker = load_linker(Path(model_config_path).with_name(LINKER_FILE))  # geometric rules if absent
        self.model_name = model_name

    def page(self, window_logits: list[np.ndarray] | np.ndarray, window_word_ids: list[np.ndarray] | np.ndarray,
             record: PageRecord) -> dict:
        """One page from the logits and word maps of its windows (a single array: one window)."""
        if isinstance(window_logits, np.ndarray) and window_logits.ndim == 2:
            window_logits, window_word_ids = [window_logits], [window_word_ids]
        n_labels = window_logits[0].shape[-1]
        if n_labels != len(self.id2label):
            raise DecodingError(f"model gave {n_labels} logits per token but config.json names {len(self.id2label)} labels")
        probs = [softmax(np.asarray(logits, dtype=np.float32)) for logits in window_logits]
        label_ids, scores = merge_word_probabilities(probs, window_word_ids, len(record.words))
        return page_result(record.words, record.boxes, label_ids, scores, self.id2label,
                           width=record.width, height=record.height, confidences=record.confidences,
                           page=record.page, source=record.source, linker=self.linker)

    def document(self, pages: list[dict]) -> bytes:
        return json.dumps({"model": self.model_name, "labels": self.id2label, "pages": pages}).encode()

    def documents(self, logits: np.ndarray, word_ids: np.ndarray, page_words: np.ndarray) -> list[bytes]:
        """All documents of one request from its windows."""
        pages: list[tuple[PageRecord, list[int]]] = []
        for window, value in enumerate(page_words.reshape(-1)):
            if value is not None and len(value):
                pages.append((PageRecord.from_json(value), [window]))
            elif pages:
                pages[-1][1].append(window)
            else:
                raise DecodingError(f"window {window} continues a page that never started")
        docs: list[list[dict]] = []
        for record, windows in pages:
            if record.page == 0 or not docs:
                docs.append([])
            docs[-1].append(self.page([logits[w] for w in windows], [word_ids[w] for w in windows], record))
        return [self.document(doc) for doc in docs]


class TritonPythonModel:
    def initialize(self, args):
        self.args = ModelArgs(args)
        self.heap = HeapSnapshots.from_parameters(self.args.instance, self.args.parameters)  # off by default
        params = PostprocessParameters.from_parameters(self.args.parameters)
        self.post = Postprocessor(self.args.version_dir / params.model_config_file)

    def _build(self, request) -> dict[str, np.ndarray]:
        logits = triton_io.require_input(request, contract.LOGITS.name, STAGE)
        word_ids = triton_io.require_input(request, contract.WORD_IDS.name, STAGE)
        page_words = triton_io.require_input(request, contract.PAGE_WORDS.name, STAGE)
        if not (logits.shape[0] == word_ids.shape[0] == page_words.shape[0]):
            raise DecodingError(f"batch sizes differ: logits {logits.shape[0]}, word_ids {word_ids.shape[0]}, "
                                f"page_words {page_words.shape[0]}")
        return {contract.RESULT.name: triton_io.bytes_array(self.post.documents(logits, word_ids, page_words))}

    def execute(self, requests):
        self.heap.tick()
        return triton_io.respond_each(requests, STAGE, self._build)
