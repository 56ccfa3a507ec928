"""Applications (办件): a resident's draft, submission, supplement (补正), withdrawal and result.

Others import `models.Application` and the functions of `service`. The instance (workflows/bpmn/instances.py) is the
source of truth for where a case stands; the application keeps what a resident reads in one document: its data,
timeline, current steps and result.
"""
