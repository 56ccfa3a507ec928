"""Statistics of applications (办件统计): rollups kept as cases move, read by department, service and period.

`rollups` writes them (called where a case moves: submit, withdraw, completion, rating) and recounts them from
the applications; `service.report` reads them for admins and department leads.
"""
