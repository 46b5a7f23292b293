"""Each stage's settings, as the model-config parameters of its step: ``build-repo`` writes them
into ``config.pbtxt``, the step's ``initialize`` reads them back, and the in-process pipeline
reads the same files (pipeline.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from layoutlmv3_triton import contract
from layoutlmv3_triton.serving.encoding import DEFAULT_MAX_WINDOWS_PER_PAGE
from layoutlmv3_triton.serving.limits import Limits
from layoutlmv3_triton.serving.ocr import OcrConfig
from layoutlmv3_triton.serving.parameters import ParameterSet
from layoutlmv3_triton.serving.pdf import DEFAULT_PDF_DPI
from layoutlmv3_triton.serving.ppocr.config import PpocrConfig
from layoutlmv3_triton.serving.windows import DEFAULT_STRIDE


@dataclass(frozen=True)
class PreprocessParameters(ParameterSet):
    ocr: OcrConfig = field(default_factory=OcrConfig)
    ppocr: PpocrConfig = field(default_factory=PpocrConfig)  # read when ocr.engine is ppocr
    limits: Limits = field(default_factory=Limits)
    pdf_dpi: int = DEFAULT_PDF_DPI
    window_stride: int = DEFAULT_STRIDE  # tokens shared by consecutive windows of a long page
    max_windows_per_page: int = DEFAULT_MAX_WINDOWS_PER_PAGE


@dataclass(frozen=True)
class ModelParameters(ParameterSet):
    """The local (python-backend) model step; the NGC backends take their own keys (repository/configs.py)."""

    onnx_file: str = contract.ONNX_FILE
    intra_op_threads: int = 1  # one single-threaded session per core: OCR shares the cores (docs/performance.md)
    allow_spinning: bool = False  # spinning idle threads steal the OCR instances' cores
    graph_optimization: str = "all"
    cpu_memory_arena: bool = True  # onnxruntime's arena keeps its high-water mark (docs/memory.md)
    # Pad windows of different buckets into one run instead of one run per length.
    pad_across_lengths: bool = False


@dataclass(frozen=True)
class OcrModelParameters(ParameterSet):
    """The local (python-backend) OCR models of the ppocr engine (steps/ocr_models.py); the
    onnxruntime backend takes its own keys."""

    onnx_file: str = contract.ONNX_FILE
    intra_op_threads: int = 1  # one single-threaded session per instance, as the model step


@dataclass(frozen=True)
class PostprocessParameters(ParameterSet):
    model_config_file: str = contract.MODEL_CONFIG_FILE
