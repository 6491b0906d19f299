"""Cron monitoring: schedules, the monitor aggregate, check-ins and the clock."""
