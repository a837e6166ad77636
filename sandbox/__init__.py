"""Local simulators of Cleanbox, EmBoux and a Slack webhook, with a simulated clock."""
