"""The approver inbox: a projection of the user tasks waiting in instances, and the actions on them.

The instance state is the source of truth; `projection.rebuild()` can always recreate `human_tasks` from it.
"""
