"""Delivery: the app factory, identity (users, departments, tokens, WeChat login), errors and blueprints."""
