"""Identity: users, departments, sessions and tokens, WeChat login. Hands `core.actor.Actor` to the domain."""
