"""Reports: trend tables, charts, and their rendering for Slack, HTML and files."""
