"""Shipped working-day calendars, one JSON file per year (replace them with `zhangban calendar import`)."""
