"""The request path: documents, images, PDFs, OCR, encoding, windows, decoding, labels,
limits, the in-process pipeline, and the Triton step models (``serving.steps``).

May import: ``contract``, ``errors``, the standard library, numpy, Pillow, tesserocr,
transformers' processor (preprocess) and onnxruntime (model step).  Never torch.
"""
