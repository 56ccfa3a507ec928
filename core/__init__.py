"""The small shared kernel: settings, the database connection, Actor, domain errors, audit, clock and ids.

It imports no other room.
"""
