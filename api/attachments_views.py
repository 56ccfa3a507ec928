"""Attachments: photos, signatures, documents. (To be filled in by its issue.)"""
from __future__ import annotations

from flask_smorest import Blueprint

blp = Blueprint("attachments", __name__, url_prefix="/api/v1/attachments", description="Attachments: photos, signatures, documents")
