"""一件事 bundles: several departments' published services applied for in one submission.

`service` holds the designer's side (drafts, checks, immutable versions) and the catalogue; `cases` the
resident's side (one merged form, one parent case that starts each department's application, one timeline, one
result). A part's end reaches its bundle through the worker (`cases.advance_due`), never through the request
that ended it.
"""
