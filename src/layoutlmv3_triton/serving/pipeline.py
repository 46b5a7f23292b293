"""The way in: one document through the ensemble's three stages, in one process.

Read this first.  The served ensemble runs the same three stages as three Triton models
(steps/: thin glue that turns request tensors into these calls and back), so what happens
to a document is all here:

1. :class:`~.preprocessor.Preprocessor` opens the bytes (an image, a PDF or either in base64)
   into :class:`~.page.Page` objects, gives each its words (the PDF's text layer, the
   client's, or OCR's: Tesseract, ocr.py, or PP-OCR, ppocr/, as ``ocr_engine`` says,
   ocr_engines.py) and encodes it into one or more model windows
   (encoding.py, windows.py);
2. :class:`~.onnx_classifier.OnnxTokenClassifier` runs ``model.onnx`` on each page's windows
   (stacked into one batch: encoding.stack_windows);
3. :class:`~.decoding.Postprocessor` merges the windows' logits per word (windows.py)
   and turns the page, as its :class:`~layoutlmv3_triton.records.PageRecord`, into labelled
   words, entities and pairs (linking.py): one JSON result per document.

Each stage reads its settings from the repository's own ``config.pbtxt`` (settings.py), so
this is the reference the served results are tested against, and a local API; for the
ppocr engine it runs the repository's own OCR graphs on onnxruntime (the server runs them as
Triton models, called from preprocess: steps/ocr_models.py).
"""

from __future__ import annotations

import json
from pathlib import Path

from layoutlmv3_triton import contract
from layoutlmv3_triton.errors import RequestError
from layoutlmv3_triton.serving.decoding import Postprocessor
from layoutlmv3_triton.serving.encoding import stack_windows
from layoutlmv3_triton.serving.onnx_classifier import OnnxTokenClassifier
from layoutlmv3_triton.serving.ppocr.engine import PpocrModels, onnx_models
from layoutlmv3_triton.serving.preprocessor import Preprocessor
from layoutlmv3_triton.serving.settings import PostprocessParameters, PreprocessParameters


def repository_ocr_models(repository: Path) -> PpocrModels:
    """The repository's OCR networks (ppocr engine) on onnxruntime: the graphs the server runs."""
    return onnx_models(
        *(repository / name / "1" / contract.ONNX_FILE for name in contract.OCR_MODELS),
        repository / contract.PREPROCESS / "1" / contract.OCR_CHARSET_FILE,
    )


def repository_parameters(repository: Path, model: str) -> dict[str, str]:
    """The string parameters of one model's ``config.pbtxt``, as Triton hands them to the step."""
    from google.protobuf import text_format
    from tritonclient.grpc import model_config_pb2

    config = text_format.Parse((repository / model / "config.pbtxt").read_text(), model_config_pb2.ModelConfig())
    return {key: value.string_value for key, value in config.parameters.items()}


class InProcessPipeline:
    """The three stages of a built model repository, called in turn: ``pipeline(bytes)`` gives
    the result the served ensemble gives for the same document."""

    def __init__(self, repository: str | Path, params: PreprocessParameters | None = None, threads: int = 0):
        repository = Path(repository)
        if params is None:
            params = PreprocessParameters.from_parameters(repository_parameters(repository, contract.PREPROCESS))
        post = PostprocessParameters.from_parameters(repository_parameters(repository, contract.POSTPROCESS))
        self.pre = Preprocessor(
            repository / contract.PREPROCESS / "1" / contract.PROCESSOR_DIR,
            params,
            lambda: repository_ocr_models(repository),
        )
        self.model = OnnxTokenClassifier(repository / contract.MODEL / "1" / contract.ONNX_FILE, threads)
        self.post = Postprocessor(repository / contract.POSTPROCESS / "1" / post.model_config_file)

    def __call__(self, document: bytes, words_json: bytes | None = None) -> dict:
        pages = self.pre.process([document], [words_json])[0]
        if isinstance(pages, RequestError):
            raise pages
        results = []
        for page in pages:
            batch = stack_windows(page.windows)
            logits = self.model.run_request({t.name: batch[t.name] for t in contract.MODEL_INPUTS})
            results.append(self.post.page(list(logits), list(batch[contract.WORD_IDS.name]), page.record()))
        return json.loads(self.post.document(results))

    def close(self) -> None:
        self.pre.close()
