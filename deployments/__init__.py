"""The schedules and parameters of every job, in one place."""
