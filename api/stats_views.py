"""/api/v1/stats: application statistics for admins and department leads, as JSON or as a CSV download."""
from __future__ import annotations

import csv
import io
from datetime import date

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from api import i18n
from api.errors import ErrorSchema
from api.http import BEARER, current_actor
from api.identity import admin
from workflows.cases.stats import service

blp = Blueprint("stats", __name__, url_prefix="/api/v1/stats",
                description="Admins and department leads: statistics by department, service and period")

i18n.register({
    "stats.bad_period": ("结束日期早于开始日期", "The period ends before it starts"),
    "stats.period_too_long": ("统计区间过长（最多 {days} 天）", "The period is too long (at most {days} days)"),
    "stats.not_allowed": ("只有管理员和部门负责人可以查看统计", "Only admins and department leads see statistics"),
    "stats.not_your_department": ("你不是该部门的负责人", "You do not lead this department"),
})


class StatsArgs(Schema):
    from_ = fields.Date(data_key="from", required=True, metadata={"description": "first day (China date)"})
    to = fields.Date(required=True, metadata={"description": "last day, inclusive"})
    group = fields.String(load_default="department", validate=validate.OneOf(service.GROUPS),
                          metadata={"description": "rows per department, service, month or day"})
    department = fields.String(load_default=None, validate=validate.Regexp(r"^[0-9a-f]{24}$"),
                               metadata={"description": "only this department (a lead: one of theirs)"})
    service = fields.String(load_default=None, validate=validate.Length(min=1, max=64),
                            metadata={"description": "only this service code"})


FIGURES = {
    "applications": fields.Integer(metadata={"description": "submitted in the period"}),
    "online": fields.Integer(), "online_rate": fields.Float(allow_none=True, metadata={"description": "网办率"}),
    "completed": fields.Integer(), "approved": fields.Integer(), "rejected": fields.Integer(),
    "withdrawn": fields.Integer(),
    "completion_rate": fields.Float(allow_none=True, metadata={"description": "办结率: completed / applications"}),
    "overdue": fields.Integer(),
    "overdue_rate": fields.Float(allow_none=True, metadata={"description": "超期率: completed late / completed"}),
    "avg_days": fields.Float(allow_none=True, metadata={"description": "working days, less 补正 pauses"}),
    "p90_days": fields.Integer(allow_none=True, metadata={"description": "90 % got their result within (41: more "
                                                                         "than 40 working days)"}),
    "rated": fields.Integer(), "good": fields.Integer(), "bad": fields.Integer(),
    "good_rate": fields.Float(allow_none=True, metadata={"description": "好评率: rated 4–5 / rated"}),
    "avg_score": fields.Float(allow_none=True),
    "first_time": fields.Integer(),
    "first_time_rate": fields.Float(allow_none=True, metadata={"description": "一次办成率: completed without 补正"}),
}
TotalOut = Schema.from_dict(FIGURES, name="StatsFigures")
RowOut = Schema.from_dict({**FIGURES, "department": fields.String(), "department_name": fields.String(),
                           "service_code": fields.String(), "service_name": fields.String(),
                           "period": fields.String()}, name="StatsRow")
StatsOut = Schema.from_dict({"from": fields.Date(), "to": fields.Date(), "group": fields.String(),
                             "department": fields.String(allow_none=True), "service": fields.String(allow_none=True),
                             "rows": fields.List(fields.Nested(RowOut)), "total": fields.Nested(TotalOut)},
                            name="Stats")


def _report(args) -> dict:
    found = service.report(current_actor(), service.Query(start=args["from_"], end=args["to"], group=args["group"],
                                                          department=args["department"], service=args["service"]))
    names = admin.department_fields({r["department"] for r in found["rows"] if "department" in r}, "name")
    for row in found["rows"]:
        if "department" in row:
            row["department_name"] = names.get(row["department"], "")
    return found



@blp.route("")
class Stats(MethodView):
    @blp.arguments(StatsArgs, location="query")
    @blp.response(200, StatsOut)
    @blp.alt_response(403, schema=ErrorSchema, description="Not an admin, nor the lead of the department")
    @blp.alt_response(422, schema=ErrorSchema, description="A bad period or group (the item names the parameter)")
    @blp.doc(security=[BEARER])
    def get(self, args):
        """Applications, 网办率, 办结率, 超期率, handling days (average, p90), 好评率 and 一次办成率 per group"""
        return _report(args)


COLUMNS = (  # (key, zh-CN, en)
    ("department_name", "部门", "Department"), ("service_code", "事项编码", "Service code"),
    ("service_name", "事项", "Service"), ("period", "期间", "Period"),
    ("applications", "申请件数", "Applications"), ("online", "网上申请", "Online"), ("online_rate", "网办率", "Online rate"),
    ("completed", "办结件数", "Completed"), ("completion_rate", "办结率", "Completion rate"),
    ("overdue", "超期件数", "Overdue"), ("overdue_rate", "超期率", "Overdue rate"),
    ("avg_days", "平均办理工作日", "Average working days"), ("p90_days", "P90 办理工作日", "P90 working days"),
    ("rated", "评价数", "Ratings"), ("good_rate", "好评率", "Good rate"),
    ("first_time", "一次办成件数", "Done first time"), ("first_time_rate", "一次办成率", "First-time rate"))
KEYS = {"department": ("department_name",), "service": ("department_name", "service_code", "service_name"),
        "month": ("period",), "day": ("period",)}


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(key, value):
    if value is None:
        return ""
    if key.endswith("_rate"):
        return f"{value * 100:.1f}%"
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value       # a name a spreadsheet would run as a formula (=, +, -, @, tab, CR) is text
    return value


@blp.route("/export.csv")
class StatsCsv(MethodView):
    @blp.arguments(StatsArgs, location="query")
    @blp.alt_response(200, description="UTF-8 CSV with a byte-order mark (Excel opens the Chinese correctly)",
                      content_type="text/csv")
    @blp.doc(security=[BEARER])
    def get(self, args):
        """The same figures as a CSV file, one row per group and a total row"""
        found = _report(args)
        en = i18n.language() == "en"
        keys = [c for c in COLUMNS if c[0] in KEYS[args["group"]] or c[0] not in ("department_name", "service_code",
                                                                                  "service_name", "period")]
        out = io.StringIO()
        out.write("\ufeff")
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow([c[2] if en else c[1] for c in keys])
        for row in found["rows"]:
            writer.writerow([_cell(k, row.get(k)) for k, _, _ in keys])
        total = {**found["total"], keys[0][0]: "Total" if en else "合计"}
        writer.writerow([_cell(k, total.get(k, "")) for k, _, _ in keys])
        name = f"stats-{args['group']}-{_iso(args['from_'])}-{_iso(args['to'])}.csv"
        return Response(out.getvalue().encode("utf-8"), mimetype="text/csv",
                        headers={"Content-Type": "text/csv; charset=utf-8",
                                 "Content-Disposition": f'attachment; filename="{name}"'})


def _iso(day: date) -> str:
    return day.isoformat()
