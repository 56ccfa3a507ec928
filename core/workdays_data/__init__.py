"""Shipped working-day calendars, one JSON file per year (`core/workdays.py`); an import (`zhangban calendar import`)
replaces a year whole. A file with `"provisional": true` was made before the State Council's notice: weekends, the
statutory holidays and the days the law gives back for those that fall on a weekend (补假), no 调休 working weekends."""
