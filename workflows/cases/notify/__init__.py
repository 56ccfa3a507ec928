"""Notifications: an outbox written in the same step as each state change, delivered later by `zhangban worker`
(WeChat subscription messages and in-app messages). Others call `service.enqueue(...)`.
"""
