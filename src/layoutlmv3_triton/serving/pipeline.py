"""The ensemble's three steps in one process, from a built model repository.

Same document loading, OCR, processor, windows, ONNX and decoding as the served
ensemble, with the parameters of the repository's own ``config.pbtxt`` files: the
reference the served results are tested against, and a local API.
"""
from __future__ import annotations

import json
from pathlib import Path

from layoutlmv3_triton import contract
from layoutlmv3_triton.errors import RequestError
from layoutlmv3_triton.serving.steps.onnx_model import OnnxTokenClassifier
from layoutlmv3_triton.serving.steps.parameters import PostprocessParameters, PreprocessParameters
from layoutlmv3_triton.serving.steps.postprocess import Postprocessor
from layoutlmv3_triton.serving.steps.preprocess import Preprocessor, stack_windows


def repository_parameters(repository: Path, model: str) -> dict[str, str]:
    """The string parameters of one model's ``config.pbtxt``, as Triton hands them to the step."""
    from google.protobuf import text_format
    from tritonclient.grpc import model_config_pb2

    config = text_format.Parse((repository / model / "config.pbtxt").read_text(), model_config_pb2.ModelConfig())
    return {key: value.string_value for key, value in config.parameters.items()}


class InProcessPipeline:
    def __init__(self, repository: str | Path, params: PreprocessParameters | None = None, threads: int = 0):
        repository = Path(repository)
        if params is None:
            params = PreprocessParameters.from_parameters(repository_parameters(repository, contract.PREPROCESS))
        post = PostprocessParameters.from_parameters(repository_parameters(repository, contract.POSTPROCESS))
        self.pre = Preprocessor(repository / contract.PREPROCESS / "1" / contract.PROCESSOR_DIR, params)
        self.model = OnnxTokenClassifier(repository / contract.MODEL / "1" / contract.ONNX_FILE, threads)
        self.post = Postprocessor(repository / contract.POSTPROCESS / "1" / post.model_config_file)

    def __call__(self, document: bytes, words_json: bytes | None = None) -> dict:
        prepared = self.pre.process([document], [words_json])[0]
        if isinstance(prepared, RequestError):
            raise prepared
        pages = []
        for page in prepared:
            batch = stack_windows(page.windows)
            logits = self.model.run_request({t.name: batch[t.name] for t in contract.MODEL_INPUTS})
            pages.append(self.post.page(list(logits), list(batch[contract.WORD_IDS.name]), page.record))
        return json.loads(self.post.document(pages))

    def close(self) -> None:
        self.pre.close()
