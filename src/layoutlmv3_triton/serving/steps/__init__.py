"""Triton glue only: the three python-backend step models that ``model_repository/*/1/model.py``
re-export.  Each turns its requests' tensors into a call of the logic in ``serving``
(preprocessor, onnx_classifier, decoding) and its results, or each request's own
error, back into responses."""
