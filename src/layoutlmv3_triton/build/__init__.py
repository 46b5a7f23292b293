"""From a trained ``from_pretrained`` folder to a model repository: configs, ONNX export
with parity checks, TensorRT, and the repository writer.

May import: ``contract``, ``errors``, ``serving`` (for the tensor layout it serves), torch
and onnx (export only, imported inside functions).
"""
