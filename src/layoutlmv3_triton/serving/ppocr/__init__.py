"""PP-OCR, the neural text reader: DB text detection and CTC line recognition.

The two networks are PaddleOCR's PP-OCRv6-small models as the ``rapidocr`` wheel packages
them; ``build-repo`` places them in the repository as the ``ocr_detection`` and
``ocr_recognition`` models (export/ppocr.py).  This package holds what runs around them,
in numpy and Pillow only (the server image has neither OpenCV nor rapidocr's other
dependencies): the page as detector input and the detector's map as line boxes
(detection.py), line crops as recogniser input and its output as words with boxes
(recognition.py), and the engine that ties them to a way of running the models (engine.py).
"""
