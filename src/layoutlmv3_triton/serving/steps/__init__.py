"""The three python-backend step models that ``model_repository/*/1/model.py`` re-export."""
