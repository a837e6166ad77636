"""The one rule that makes a stranger's text storable (mailops.text), and that every str field
of the clients' models passes it."""

from __future__ import annotations

import inspect
import types
import typing
from typing import Annotated, Any, Literal, Union

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, SecretStr

from mailops.models import cleanbox, emboux
from mailops.report.escape import terminal_text
from mailops.text import REPLACEMENT, STORABLE, storable

CONTROLS = [chr(c) for c in (*range(0x00, 0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0))]


@pytest.mark.parametrize("character", CONTROLS, ids=lambda c: f"U+{ord(c):04X}")
def test_given_a_control_character_when_made_storable_then_it_becomes_the_replacement(
    character: str,
):
    assert storable(f"a{character}b") == f"a{REPLACEMENT}b"


def test_given_a_nul_when_made_storable_then_it_is_visible_and_nothing_else_changes():
    assert storable("bob\x00@example.com") == "bob\ufffd@example.com"


@pytest.mark.parametrize("surrogate", ["\ud800", "\udbff", "\udc00", "\udfff"])
def test_given_a_lone_surrogate_when_made_storable_then_it_becomes_the_replacement(
    surrogate: str,
):
    assert storable(f"x{surrogate}y") == "x\ufffdy"
    storable(f"x{surrogate}y").encode("utf-8")  # now any database driver can encode it


def test_given_tab_and_newline_when_made_storable_then_they_are_kept():
    assert storable("line one\n\tline two") == "line one\n\tline two"


@pytest.mark.parametrize("text", [
    "josé.müller@bücher.example", "用户@例子.广告", "emoji 😀 ok", "\u202eevil\u202c",
    "\u200b\u2066isolate\u2069", "\ufffe\uffff", "", "plain",
])
def test_given_text_a_database_stores_when_made_storable_then_it_is_unchanged(text: str):
    # bidi controls included: they are made visible where text is shown, not at storage
    assert storable(text) == text


def test_given_any_unstorable_text_when_made_storable_then_its_length_is_the_same():
    text = "\x00\ud800\x1b[2J\x85\x7f" * 1000
    assert len(storable(text)) == len(text)


def test_given_a_text_longer_than_a_bound_when_made_storable_then_it_ends_in_an_ellipsis():
    assert storable("abcdef", 4) == "abc…"
    assert storable("abcd", 4) == "abcd"
    assert storable("abc", 0) == ""


def test_given_a_terminal_when_text_is_printed_then_the_same_characters_become_question_marks():
    assert terminal_text("evil\x1b[2J\x9b\ud800sender\n") == "evil?[2J??sender\n"


# --- every str field of the API models passes the rule ---------------------------------

EXACT = {(emboux.ProviderCredential, "password")}  # a credential, kept as given, never stored


def _models() -> list[type[BaseModel]]:
    return [
        value for module in (cleanbox, emboux) for value in vars(module).values()
        if inspect.isclass(value) and issubclass(value, BaseModel) and value is not BaseModel
        and value.__module__ == module.__name__
    ]


def _bare_strings(annotation: Any, metadata: list[Any]) -> list[str]:
    """Where in `annotation` a str is reached without STORABLE among its metadata."""
    if annotation is str:
        return [] if any(item is STORABLE for item in metadata) else ["str"]
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        inner, *extra = typing.get_args(annotation)
        return _bare_strings(inner, [*metadata, *extra])
    if origin is Literal or annotation is SecretStr:
        return []
    if origin in (Union, types.UnionType, list, tuple, dict, set, frozenset):
        return [bad for arg in typing.get_args(annotation) for bad in _bare_strings(arg, [])]
    return []


def test_every_str_field_of_the_client_models_is_made_storable():
    # Given every pydantic model of both clients (nested ones included: they are models too)
    models = _models()
    assert {cleanbox.Contact, cleanbox.Category, emboux.FrozenCounters, emboux.DnsRecord} <= set(
        models
    )
    # Then no field reaches a str that does not pass the rule
    bare = [
        f"{model.__name__}.{name}"
        for model in models for name, field in model.model_fields.items()
        if (model, name) not in EXACT and _bare_strings(field.annotation, list(field.metadata))
    ]
    assert bare == []


def test_a_lone_surrogate_in_an_answer_is_replaced_not_refused():
    # pydantic's own str check refuses a lone surrogate; the rule runs before it
    summary = emboux.DomainSummary.model_validate(
        {"name": "acme.example", "partner_ref": "p\ud800\x00", "status": "active\udfff"})
    assert (summary.partner_ref, summary.status) == ("p\ufffd\ufffd", "active\ufffd")


@given(st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=()),
               max_size=255))
def test_any_text_in_a_bounded_field_parses_to_the_storable_text(text: str):
    contact = cleanbox.Contact.model_validate({
        "uuid": "u-1", "email": text, "email_count": 1, "state": "unset", "category": None,
        "created_at": "2026-01-01T00:00:00Z", "has_subscriptions": False})
    partner = emboux.DomainSummary.model_validate(
        {"name": "acme.example", "partner_ref": text, "status": "active"}).partner_ref
    assert contact.email == storable(text) == partner
