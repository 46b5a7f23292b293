"""From a trained ``from_pretrained`` folder to servable graphs: ONNX export and quantisation
(``onnx``), the one parity report every target is judged by (``parity``), and TensorRT engines
with their profiles and INT32 rewrite (``tensorrt``).

May import: ``contract``, ``errors``, ``serving`` (the runner the parity check serves with);
torch, onnx and tensorrt only inside functions.
"""
