"""Pure decision logic: no HTTP, no database, no Prefect."""
