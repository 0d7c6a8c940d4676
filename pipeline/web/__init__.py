"""The web interface for archivists: search, documents with their pages, review and corrections, tasks,
intake, REST API (FastAPI, server-rendered Jinja2 pages, vendored static files, Vietnamese and English)."""

from __future__ import annotations

from pipeline.web.app import WebConfig, create_app

__all__ = ["WebConfig", "create_app"]
