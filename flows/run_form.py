"""How a flow's optional parameters look in the Prefect UI's Run form.

Prefect draws a parameter `x: int | None = None` as a choice between an integer and None,
with the text 'Property is type "None"', and its schema's `"default": null` is what the form
sends when the field is left alone. A mailops parameter whose default is the clock or a
setting (`as_of`, `day`, `max_actions`, ...) is shown instead as a field of its own type left
empty: the form omits an empty field (the Prefect UI's "omit value", PrefectHQ/prefect#12066),
so the run gets the flow's own default, None, as a run from the CLI does.

The schema Prefect builds for a deployment (`mailops serve` and `prefect deploy` alike) comes
from `inspect.signature(flow)`, which reads the flow's `__signature__`; the function the run
calls, and the validation of what it is given, keep the real signature (`flow.fn`).
"""

from __future__ import annotations

import inspect
import types
import typing
from typing import Annotated, Any, TypeVar

from prefect import Flow
from pydantic import Field
from pydantic.json_schema import SkipJsonSchema

F = TypeVar("F", bound=Flow[Any, Any])


def _nothing() -> None:
    return None


def _without_none(annotation: Any) -> Any | None:
    """`X` of `X | None` (a union of the other members for several), None otherwise."""
    if typing.get_origin(annotation) not in (typing.Union, types.UnionType):
        return None
    members = [m for m in typing.get_args(annotation) if m is not type(None)]
    if len(members) == len(typing.get_args(annotation)):
        return None
    return members[0] if len(members) == 1 else typing.Union[tuple(members)]  # noqa: UP007


def form_parameter(parameter: inspect.Parameter) -> inspect.Parameter:
    """The parameter as the Run form should show it: `X | None = None` becomes an X field
    with no default in the schema (not required: an empty field is left out)."""
    inner = _without_none(parameter.annotation)
    if parameter.default is not None or inner is None:
        return parameter
    shown = Annotated[inner | SkipJsonSchema[None], Field(default_factory=_nothing)]
    return parameter.replace(annotation=shown, default=...)


def run_form(flow: F) -> F:
    """Give `flow` the signature its Run form is built from (see the module's docstring)."""
    signature = inspect.signature(flow.fn, eval_str=True)
    flow.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[form_parameter(p) for p in signature.parameters.values()])
    return flow
