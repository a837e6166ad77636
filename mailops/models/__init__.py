"""The data that crosses layers: the APIs' answers and the day's health figures.

Clients, collection, rules, the store and the reports all take these types; they import only
the standard library, pydantic and mailops' own plain modules (text, counts, secrets), never
the HTTP layer, a client, Prefect or SQLAlchemy (tests/test_layout.py holds it).
"""
