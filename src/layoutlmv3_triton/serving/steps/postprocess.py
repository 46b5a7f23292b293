"""Postprocess step: the Triton glue around serving/decoding.py's Postprocessor (logits + token->word
map + page records in, one JSON result per document out)."""

from __future__ import annotations

import numpy as np

from layoutlmv3_triton import contract
from layoutlmv3_triton.errors import DecodingError
from layoutlmv3_triton.serving.decoding import Postprocessor
from layoutlmv3_triton.serving.settings import PostprocessParameters
from layoutlmv3_triton.serving.steps import triton_io
from layoutlmv3_triton.serving.steps.diagnostics import HeapSnapshots
from layoutlmv3_triton.serving.steps.triton_io import ModelArgs

STAGE = "postprocess"


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
            raise DecodingError(
                f"batch sizes differ: logits {logits.shape[0]}, word_ids {word_ids.shape[0]}, "
                f"page_words {page_words.shape[0]}"
            )
        return {contract.RESULT.name: triton_io.bytes_array(self.post.documents(logits, word_ids, page_words))}

    def execute(self, requests):
        self.heap.tick()
        return triton_io.respond_each(requests, STAGE, self._build)
