"""PP-OCR's pre- and post-processing (serving/ppocr/), and the real networks on rendered pages."""

import numpy as np
import pytest
from pages import font, render_lines
from PIL import Image, ImageDraw

from layoutlmv3_triton.serving.ppocr import detection, recognition
from layoutlmv3_triton.serving.ppocr.config import PpocrConfig
from layoutlmv3_triton.serving.ppocr.detection import TextBox

CHARSET = ["", *"abcdefghijklmnopqrstuvwxyz0123456789:/-", " "]


def ids_of(text: str) -> list[int]:
    return [CHARSET.index(c) for c in text]


def test_ctc_decoding_merges_repeats_drops_blanks_and_keeps_columns():
    a, b, el, o = ids_of("ablo")
    columns = [0, a, a, 0, b, 0, el, el, 0, el, 0, o, 0]
    probs = np.linspace(0.5, 1.0, len(columns))
    line = recognition.ctc_decode(np.array(columns), probs, CHARSET, columns_read=len(columns))
    assert line.text == "abllo"  # "ll": a blank between two l's keeps both
    assert line.columns == [1, 4, 6, 9, 11]
    assert line.probabilities == pytest.approx(probs[[1, 4, 6, 9, 11]].tolist())
    empty = recognition.ctc_decode(np.zeros(10, dtype=int), np.ones(10), CHARSET, 10)
    assert empty.text == "" and empty.score == 0.0


def test_words_come_from_character_columns():
    # "date: 12/04" then, after a wide gap with no space, "ok": three words, the second split after "/"
    text, columns = "date: 12/04ok", [2, 4, 6, 8, 9, 11, 14, 16, 17, 19, 21, 40, 42]
    line = recognition.ReadLine(text, columns, [0.9] * len(text), columns_read=50)
    spans = recognition.line_words(line, crop_width=500.0, split_after="/-:")
    assert [s.text for s in spans] == ["date:", "12/", "04", "ok"]
    px = 500.0 / 50  # crop pixels per column
    assert spans[0].left == pytest.approx((2 + 0.5) * px - px, abs=px)
    assert spans[-1].left > 390 and spans[-1].right <= 500
    assert all(a.right <= b.left + 1e-6 for a, b in zip(spans, spans[1:]))  # neighbours never overlap
    assert all(s.confidence == pytest.approx(0.9) for s in spans)


def test_word_span_maps_to_the_page_through_its_line_box():
    box = TextBox(np.array([[100, 50], [300, 50], [300, 70], [100, 70]], dtype=float), 0.9)
    span = recognition.WordSpan("x", 20.0, 60.0, 1.0)
    assert recognition.span_box(box, span, crop_width=200.0) == (120, 50, 160, 70)


def probability_map(rectangles, size=(200, 400)):
    prob = np.zeros(size, dtype=np.float32)
    for y0, y1, x0, x1 in rectangles:
        prob[y0:y1, x0:x1] = 0.9
    return prob


def test_db_boxes_grow_text_kernels_back_and_read_in_order():
    # two lines on one row, one below; a speck too thin to be text
    prob = probability_map([(20, 30, 200, 300), (21, 31, 20, 150), (80, 92, 20, 380), (150, 152, 20, 300)])
    boxes = detection.boxes_from_map(prob, page_size=(800, 400))  # page twice the map's width and height
    assert len(boxes) == 3
    first, second, third = (b.bounds() for b in boxes)
    assert first[0] < second[0] and first[1] < third[1]  # row by row, left to right
    x0, y0, x1, y1 = first
    # kernel x 20..149, y 21..30, dilated by one pixel right and down: pixel centres span 130 x 10;
    # DB grows that by area * 1.6 / perimeter on every side
    grow = 130 * 10 * 1.6 / (2 * (130 + 10))
    assert x0 == pytest.approx(2 * (20 - grow), abs=2) and x1 == pytest.approx(2 * (150 + grow), abs=2)
    assert y0 == pytest.approx(2 * (21 - grow), abs=2) and y1 == pytest.approx(2 * (31 + grow), abs=2)
    assert all(b.upright for b in boxes)


def test_db_follows_a_tilted_line():
    prob = np.zeros((200, 400), dtype=np.float32)
    for x in range(40, 360):  # a line 8 px thick rising 1 px every 16 px (3.6 degrees)
        y = 100 - (x - 40) // 16
        prob[y : y + 8, x] = 0.95
    (box,) = detection.boxes_from_map(prob, page_size=(400, 200))
    assert not box.upright
    along = box.corners[1] - box.corners[0]
    assert np.degrees(np.arctan2(-along[1], along[0])) == pytest.approx(3.6, abs=0.5)
    x0, y0, x1, y1 = box.bounds()
    assert box.height < 0.6 * (y1 - y0)  # far thinner than an upright box around the line
    assert box.score > 0.8


def test_regions_are_8_connected_and_low_scores_drop():
    mask = np.zeros((6, 12), dtype=bool)
    mask[0:2, 0:4] = True
    mask[2:4, 4:8] = True  # touches the first only at a corner: the same region
    mask[5, 10:12] = True  # apart
    rows, starts, ends = detection._runs(mask)
    labels = detection._component_of_runs(rows, starts, ends, mask.shape[1])
    assert labels.tolist() == [0, 0, 0, 0, 1]
    prob = probability_map([(10, 20, 10, 100)])
    prob[100:110, 10:200] = 0.35  # above the pixel threshold, below the box threshold
    (kept,) = detection.boxes_from_map(prob, page_size=(400, 200), config=PpocrConfig())
    assert kept.bounds()[3] < 50


def test_detector_input_is_a_multiple_of_32_in_bgr():
    page = Image.new("RGB", (100, 50), (255, 0, 0))
    array = detection.detector_input(page, 1.5)
    assert array.shape == (1, 3, 64, 160) and array.dtype == np.float32
    assert array[0, 2].min() == pytest.approx(1.0) and array[0, 0].max() == pytest.approx(-1.0)  # red is channel 2


def test_line_crops_are_48_px_and_batches_group_by_padded_width():
    page = Image.new("RGB", (600, 200), "white")
    boxes = [
        TextBox(np.array([[10, 10], [10 + w, 10], [10 + w, 34], [10, 34]], dtype=float), 0.9)
        for w in (40, 400, 50, 380, 45)
    ]
    crops = [recognition.crop_line(page, b, max_width=2400) for b in boxes]
    assert [c.image.height for c in crops] == [48] * 5
    assert [c.width for c in crops] == [80, 800, 100, 760, 90]
    groups = recognition.batches(crops, size=2, min_width=0)
    assert [members for members, _ in groups] == [[0, 4], [2], [3], [1]]
    assert [array.shape[3] for _, array in groups] == [96, 128, 768, 896]
    assert groups[0][1][0, :, :, 80:].max() == 0  # padding on the right
    assert [recognition.padded_width(w, 320) for w in (10, 321, 700, 1100)] == [320, 384, 768, 1280]


# --- the real networks, as build-repo writes them -------------------------------------------------
@pytest.fixture(scope="module")
def engine():
    pytest.importorskip("onnx")
    from layoutlmv3_triton.errors import RepositoryError
    from layoutlmv3_triton.export.ppocr import package_models
    from layoutlmv3_triton.serving.ppocr.engine import PpocrEngine

    try:
        models = package_models()
    except RepositoryError as exc:
        pytest.skip(str(exc))
    return PpocrEngine(models, PpocrConfig(), split_after="/-:")


LINES = ["Invoice Number: 12345", "Date: 2024-01-02 Total due 99.50", "Ship to: Acme Corporation Ltd"]


def test_reads_a_rendered_page_with_word_boxes(engine):
    image, truth = render_lines(LINES)
    words = engine.read(image)
    expected = {
        "Invoice",
        "Number:",
        "12345",
        "Date:",
        "2024-",
        "01-",
        "02",
        "Total",
        "due",
        "99.50",
        "Ship",
        "to:",
        "Acme",
        "Corporation",
        "Ltd",
    }
    assert len(expected & {w.text for w in words}) >= 13, [w.text for w in words]
    placed = 0
    for text, box in truth:  # whole words: those not split after / - :
        match = [w for w in words if w.text == text]
        if match:
            got = min(match, key=lambda w: abs(w.box[0] - box[0]) + abs(w.box[1] - box[1]))
            placed += all(abs(a - b) <= 12 for a, b in zip(got.box, box))
            assert 0 <= got.confidence <= 100
    assert placed >= 8
    assert [w.line for w in words] == sorted(w.line for w in words)  # reading order, line by line


def test_pages_read_together_give_what_each_gives_alone(engine):
    a, _ = render_lines(["first page of two"])
    b, _ = render_lines(["Second: 12/04/87"], size=(700, 300))
    together = engine.read_pages([a, b])
    alone = [engine.read(a), engine.read(b)]
    # the same words and boxes; confidences move a little with the padding of a shared batch
    assert [[(w.text, w.box, w.line) for w in page] for page in together] == [
        [(w.text, w.box, w.line) for w in page] for page in alone
    ]
    assert [w.text for w in together[1]] == ["Second:", "12/", "04/", "87"]


def test_blank_and_tiny_pages_have_no_words(engine):
    assert engine.read(Image.new("RGB", (400, 300), "white")) == []
    assert engine.read(Image.new("RGB", (1, 1), "white")) == []
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 256, (300, 400, 3), dtype=np.uint8))
    assert len(engine.read(noise)) < 5


def test_a_slightly_rotated_scan_reads(engine):
    image = Image.new("RGB", (900, 400), "white")
    ImageDraw.Draw(image).text((60, 150), "Received March 12 1987", font=font(30), fill="black")
    words = engine.read(image.rotate(3, resample=Image.Resampling.BICUBIC, fillcolor="white"))
    assert {"Received", "March", "12", "1987"} <= {w.text for w in words}


# --- the OCR networks as python-backend models (the local variant) --------------------------------
@pytest.fixture(scope="module")
def ocr_repository(tmp_path_factory):
    pytest.importorskip("onnx")
    from layoutlmv3_triton import contract
    from layoutlmv3_triton.errors import RepositoryError
    from layoutlmv3_triton.export.ppocr import write_ocr_models
    from layoutlmv3_triton.repository import configs
    from layoutlmv3_triton.repository.writer import with_ocr_engine

    repo = tmp_path_factory.mktemp("ocr-models")
    try:
        write_ocr_models(
            *(repo / name / "1" / contract.ONNX_FILE for name in contract.OCR_MODELS), repo / contract.OCR_CHARSET_FILE
        )
    except RepositoryError as exc:
        pytest.skip(str(exc))
    options = with_ocr_engine(configs.ServingOptions(), "ppocr")
    for name in contract.OCR_MODELS:
        (repo / name / "config.pbtxt").write_text(configs.render(configs.ocr_model_config(options, name)))
    return repo


def test_recognition_model_batches_equal_shapes_and_answers_bad_requests_alone(ocr_repository, monkeypatch):
    import fake_pb_utils

    from layoutlmv3_triton import contract
    from layoutlmv3_triton.serving.steps import ocr_models, triton_io

    monkeypatch.setattr(triton_io, "pb_utils", fake_pb_utils.install())
    model = ocr_models.TritonPythonModel()
    model.initialize(fake_pb_utils.initialize_args(ocr_repository, contract.OCR_RECOGNITION))
    rng = np.random.default_rng(0)
    lines = [rng.uniform(-1, 1, (n, 3, 48, w)).astype(np.float32) for n, w in ((2, 96), (1, 128), (3, 96))]
    requests = [
        fake_pb_utils.InferenceRequest(line_images=lines[0]),
        fake_pb_utils.InferenceRequest(line_images=np.zeros((1, 3, 32, 96), np.float32)),  # not 48 px
        fake_pb_utils.InferenceRequest(line_images=lines[1]),
        fake_pb_utils.InferenceRequest(),
        fake_pb_utils.InferenceRequest(line_images=lines[2]),
    ]
    responses = model.execute(requests)
    for index, array in zip((0, 2, 4), lines):
        out = responses[index].outputs()
        assert out["char_ids"].shape == out["char_scores"].shape == (array.shape[0], array.shape[3] // 8)
        alone = model.execute([fake_pb_utils.InferenceRequest(line_images=array)])[0].outputs()
        np.testing.assert_array_equal(out["char_ids"], alone["char_ids"])
    for index, reason in ((1, "line_images has shape [1, 3, 32, 96]"), (3, "missing input tensor")):
        assert responses[index].error.code() == fake_pb_utils.TritonError.INVALID_ARG
        assert responses[index].error.message().startswith("ocr: ") and reason in responses[index].error.message()
