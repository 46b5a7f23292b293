"""Measurement: the benchmark (``measure.bench``), soak, perf_analyzer input data,
evaluation of a served model, and the dataset readers they share with training.

May import: everything but ``commands``.
"""
