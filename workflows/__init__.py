"""Domain: process definitions, the sandboxed engine, instances, task inbox, approver actions, timers."""
