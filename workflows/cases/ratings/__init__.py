"""好差评: a resident rates a completed application once (1–5, tags, a comment) and may add one follow-up comment
(追评); a bad rating (1 or 2) opens a follow-up task (`HumanTask.kind == "rating_followup"`) in the handling
department's inbox, which the department completes with what it did.
"""
