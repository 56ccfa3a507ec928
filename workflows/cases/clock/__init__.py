"""The legal clock of a case: working days (China's holidays and 调休 working weekends), deadlines paused while the
applicant corrects (补正), reminders at 75 % of the time limit and escalation when overdue.

The worker calls `reminders.scan(now)` on every round.
"""
