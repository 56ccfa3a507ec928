"""Published forms for clients. (To be filled in by its issue.)"""
from __future__ import annotations

from flask_smorest import Blueprint

blp = Blueprint("forms", __name__, url_prefix="/api/v1/forms", description="Published forms for clients")
