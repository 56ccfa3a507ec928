"""Services (事项): what a resident can apply for — a department's published form bound to a published process.

Others import `models.ServiceVersion` and the read functions of `service` (published versions are immutable).
"""
