"""The request path.  Start at ``pipeline.py``: one document through the three stages.

The stages' logic: ``preprocessor`` (documents, with images, PDFs, OCR, encoding, windows),
``onnx_classifier`` (the model) and ``decoding`` (the postprocessor, with labels, entities,
linking), around the one page type of ``page``; ``settings`` holds each stage's config
parameters.
``serving.steps`` is Triton glue only: the three python-backend models that
``model_repository/*/1/model.py`` re-export, turning request tensors into these calls.

May import: ``contract``, ``errors``, ``records``, the standard library, numpy, Pillow,
tesserocr, transformers' processor (preprocess) and onnxruntime (model).  Never torch.
"""
