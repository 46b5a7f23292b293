"""The one source of truth for the served ensemble: model names, tensors, sizes.

Every ``config.pbtxt``, the thin ``model.py`` files, the ONNX export and its parity
checks, the client and the tests read Triton's tensor names from here.  (Hugging Face's
processor and model use the same words, ``input_ids``, ``bbox``, ..., for their own
keyword arguments and batch keys; the encoding and training code spell those as that
API does.)  This module imports only the standard library so that the torch-free client
can use it.
"""

from __future__ import annotations

from dataclasses import dataclass

ENSEMBLE = "layoutlmv3_ensemble"
PREPROCESS = "layoutlmv3_preprocess"
MODEL = "layoutlmv3_model"
POSTPROCESS = "layoutlmv3_postprocess"
ALL_MODELS = (PREPROCESS, MODEL, POSTPROCESS, ENSEMBLE)
# The neural OCR engine's networks (preprocess parameter ocr_engine=ppocr), called by the
# preprocess step through BLS: not ensemble steps.
OCR_DETECTION = "ocr_detection"
OCR_RECOGNITION = "ocr_recognition"
OCR_MODELS = (OCR_DETECTION, OCR_RECOGNITION)
OCR_ENGINES = ("tesseract", "ppocr")

# LayoutLMv3's usable text length: max_position_embeddings (514) less the padding offset.
MAX_SEQ_LEN = 512
IMAGE_SIZE = 224
BBOX_SCALE = 1000  # LayoutLMv3 boxes live in 0..1000
# Sequences are padded up to one of these lengths so that Triton's dynamic batcher
# (which only groups equal shapes) can batch pages of similar length.
SEQ_BUCKETS = (64, 128, 256, 384, 512)
DEFAULT_MAX_BATCH_SIZE = 8  # documents per request, and what the ensemble batches
# The model and postprocess steps batch sequences (pages x windows), so their bound is larger.
DEFAULT_MAX_WINDOWS = 64


@dataclass(frozen=True)
class Tensor:
    """A tensor as Triton sees it; ``dims`` leave out the batch dimension."""

    name: str
    dtype: str  # Triton dtype without the TYPE_ prefix: INT64, FP32, BYTES, ...
    dims: tuple[int, ...]
    optional: bool = False
    ragged: bool = False
    description: str = ""

    @property
    def config_dtype(self) -> str:
        return "TYPE_STRING" if self.dtype == "BYTES" else f"TYPE_{self.dtype}"

    @property
    def numpy_dtype(self) -> str:
        return NUMPY_DTYPES[self.dtype]


NUMPY_DTYPES = {
    "BYTES": "object",
    "BOOL": "bool",
    "INT32": "int32",
    "INT64": "int64",
    "FP16": "float16",
    "FP32": "float32",
    "UINT8": "uint8",
}

# --- ensemble I/O (what a client sends and receives) -------------------------------
DOCUMENT = Tensor("document", "BYTES", (1,), description="encoded image bytes (PNG, JPEG, TIFF, ...)")
WORDS = Tensor(
    "words",
    "BYTES",
    (1,),
    optional=True,
    description='bring your own OCR: JSON {"words": [...], "boxes": [[x0, y0, x1, y1], ...]} in pixels',
)
RESULT = Tensor("result", "BYTES", (1,), description="JSON: page size, words and labelled entities")

# --- between the steps ----------------------------------------------------------------
INPUT_IDS = Tensor("input_ids", "INT64", (-1,))
ATTENTION_MASK = Tensor("attention_mask", "INT64", (-1,))
BBOX = Tensor("bbox", "INT64", (-1, 4))
PIXEL_VALUES = Tensor("pixel_values", "FP32", (3, IMAGE_SIZE, IMAGE_SIZE))
WORD_IDS = Tensor("word_ids", "INT64", (-1,), description="token -> word index; -1 for special and padding tokens")
PAGE_WORDS = Tensor(
    "page_words",
    "BYTES",
    (1,),
    description="JSON on a page's first sequence (words, pixel boxes, page size, document and "
    "page index); empty on the page's further windows",
)
LOGITS = Tensor("logits", "FP32", (-1, -1))

# --- the OCR models (serving/ppocr/) ---------------------------------------------------------
OCR_PAGE = Tensor(
    "page_image", "FP32", (3, -1, -1), description="a page scaled to sides of multiples of 32, BGR, -1..1"
)
OCR_TEXT_MAP = Tensor("text_probability", "FP32", (1, -1, -1), description="per pixel: the probability of text")
OCR_LINE_HEIGHT = 48
OCR_LINES = Tensor(
    "line_images",
    "FP32",
    (3, OCR_LINE_HEIGHT, -1),
    description="text lines cut out of pages, 48 px tall, BGR, -1..1, zero-padded to one width",
)
OCR_CHAR_IDS = Tensor("char_ids", "INT64", (-1,), description="per 8-px column: the likeliest character id, 0 = blank")
OCR_CHAR_SCORES = Tensor("char_scores", "FP32", (-1,), description="per column: that character's probability")
OCR_DETECTION_INPUTS, OCR_DETECTION_OUTPUTS = (OCR_PAGE,), (OCR_TEXT_MAP,)
OCR_RECOGNITION_INPUTS, OCR_RECOGNITION_OUTPUTS = (OCR_LINES,), (OCR_CHAR_IDS, OCR_CHAR_SCORES)

MODEL_INPUTS = (INPUT_IDS, ATTENTION_MASK, BBOX, PIXEL_VALUES)
PREPROCESS_INPUTS = (DOCUMENT, WORDS)
PREPROCESS_OUTPUTS = (*MODEL_INPUTS, WORD_IDS, PAGE_WORDS)
MODEL_OUTPUTS = (LOGITS,)
POSTPROCESS_INPUTS = (LOGITS, WORD_IDS, PAGE_WORDS)
POSTPROCESS_OUTPUTS = (RESULT,)
ENSEMBLE_INPUTS = (DOCUMENT, WORDS)
ENSEMBLE_OUTPUTS = (RESULT,)

# A request's batch is its documents; the preprocess step turns it into one row per
# sequence (pages x windows), which is the batch the model and postprocess steps see.

# The ensemble's dataflow: (step model, {step input: ensemble tensor}, {step output: ensemble tensor}).
# Ensemble-internal tensors reuse the step tensor names, so the graph reads as the picture in README.
ENSEMBLE_STEPS = (
    (PREPROCESS, {t.name: t.name for t in PREPROCESS_INPUTS}, {t.name: t.name for t in PREPROCESS_OUTPUTS}),
    (MODEL, {t.name: t.name for t in MODEL_INPUTS}, {t.name: t.name for t in MODEL_OUTPUTS}),
    (POSTPROCESS, {t.name: t.name for t in POSTPROCESS_INPUTS}, {t.name: t.name for t in POSTPROCESS_OUTPUTS}),
)

# Files that build-repo places in a model's version folder.
ONNX_FILE = "model.onnx"
PLAN_FILE = "model.plan"
PROCESSOR_DIR = "processor"  # preprocess: tokenizer + image processor, from_pretrained format
MODEL_CONFIG_FILE = "config.json"  # postprocess: the model's HF config, whose id2label names the labels
OCR_CHARSET_FILE = "ocr_characters.txt"  # preprocess: the recogniser's characters, line i = id i


# --- documents a client may send: the suffixes clients look for, the bytes the server checks --------
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".webp")
PDF_SUFFIXES = (".pdf",)
DOCUMENT_SUFFIXES = IMAGE_SUFFIXES + PDF_SUFFIXES
PDF_MAGIC = b"%PDF-"


def is_pdf(data: bytes) -> bool:
    """Whether document bytes are a PDF (by content, never by file name)."""
    return data[:1024].lstrip().startswith(PDF_MAGIC)


# --- word tags: BIO, BIOES and BILOU prefixes; labels themselves come from config.json --------------
TAG_PREFIXES = ("B", "I", "E", "S", "L", "U")
_TAG_MEANING = {"L": "E", "U": "S"}  # BILOU's last and unit are BIOES's end and single


def split_tag(tag: str) -> tuple[str, str]:
    """'B-QUESTION' -> ('B', 'QUESTION'); 'O' -> ('O', ''); 'L-X' reads as 'E-X' and 'U-X' as 'S-X';
    a tag with no prefix is its own entity type ('MENU.NM' -> ('B', 'MENU.NM'))."""
    if tag == "O" or not tag:
        return "O", ""
    prefix, sep, name = tag.partition("-")
    if sep and prefix.upper() in TAG_PREFIXES:
        return _TAG_MEANING.get(prefix.upper(), prefix.upper()), name
    return "B", tag


def entity_type(tag: str) -> str:
    """'B-QUESTION' -> 'QUESTION'; 'O' stays 'O'."""
    return split_tag(tag)[1] or tag


def bucket_length(n_tokens: int, buckets: tuple[int, ...] = SEQ_BUCKETS) -> int:
    """The smallest bucket that holds ``n_tokens`` (capped at the last bucket)."""
    for b in buckets:
        if n_tokens <= b:
            return b
    return buckets[-1]
