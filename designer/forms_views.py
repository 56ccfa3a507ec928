"""Designer: forms (drafts, validation, versions). (To be filled in by its issue.)"""
from __future__ import annotations

from flask_smorest import Blueprint

blp = Blueprint("designer_forms", __name__, url_prefix="/api/v1/designer/forms", description="Designer: forms (drafts, validation, versions)")
