"""The web dashboard: a FastAPI app (see `app.create_app`) with server-rendered pages and a JSON API."""
