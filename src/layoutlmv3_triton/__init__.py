"""LayoutLMv3 document understanding served on NVIDIA Triton.

Importing the package is cheap: heavy libraries (torch, transformers, onnxruntime,
tesserocr) are imported by the modules that need them.
"""

__version__ = "0.1.0"
