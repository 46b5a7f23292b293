"""The logic behind the python-backend models.  Each ``model_repository/*/1/model.py``
only re-exports a ``TritonPythonModel`` from here, so everything is importable and
testable without a server."""
