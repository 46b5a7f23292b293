"""``layoutlmv3-triton bench``: the served ensemble against the naive pipeline.

Modules: ``metrics`` (the arithmetic), ``pages`` (the inputs), ``pipelines`` ((a) and
(b), in process), ``stages`` ((d): stage costs and the compute bound), ``perf`` ((c):
perf_analyzer), ``build`` (model and repositories), ``report`` (Markdown, JSON, plot),
``runner`` (one run, with progress).
"""
