"""Delivery: drafting, validating and publishing forms, processes and services (/api/v1/designer/...)."""
