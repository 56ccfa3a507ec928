"""Designer: BPMN processes and test runs. (To be filled in by its issue.)"""
from __future__ import annotations

from flask_smorest import Blueprint

blp = Blueprint("designer_processes", __name__, url_prefix="/api/v1/designer/processes", description="Designer: BPMN processes and test runs")
