"""Refused API requests get a sentence naming the input and what it must be.

Gradio checks and converts every input before a handler runs; when that
fails (`image=123`, `blend="abc"`, `threshold=None`, too few inputs) it
answers `{"error": null}` unless the app shows every exception, stack
details included. `FaceKitBlocks` turns those refusals into `gr.Error`
sentences such as "blend (Blend ...) must be a number from 0 to 1; got
'abc'.", and also checks the converted values' types (a list for a model
dropdown, null for a text box) before the handler sees them. Nothing of the
input is echoed beyond a short prefix.
"""

from __future__ import annotations

import inspect
import logging
from typing import Any

import gradio as gr
from gradio import components

from facekit.errors import quote_prefix

log = logging.getLogger(__name__)


def expectation(block: Any) -> str:
    """What a component accepts, in words."""
    if isinstance(block, components.Slider):
        return f"a number from {block.minimum:g} to {block.maximum:g}"
    if isinstance(block, components.Number):
        return "a number"
    if isinstance(block, components.Checkbox):
        return "true or false"
    if isinstance(block, components.Dropdown):
        if block.multiselect:
            return "a list of values from its choices"
        numeric = any(isinstance(choice[1], int | float) for choice in block.choices or [])
        return "one of its choices (a number) or null" if numeric else "one model id (a string) or null from its list of choices"
    if isinstance(block, components.Radio):
        return f"one of {', '.join(str(choice[1]) for choice in block.choices)}"
    if isinstance(block, components.Textbox):
        return "text (a string)"
    if isinstance(block, components.File):
        return "a list of uploaded files (handle_file(PATH) each)" if block.file_count == "multiple" else "an uploaded file"
    if isinstance(block, components.Image):
        return "an uploaded image file (handle_file(PATH)) or null"
    return f"a valid {block.get_block_name()} value"


def _value_types(block: Any) -> tuple[type, ...] | None:
    """Python types a converted value must have (None: not checked here)."""
    if isinstance(block, components.Slider | components.Number):
        return (int, float)
    if isinstance(block, components.Checkbox):
        return (bool,)
    if isinstance(block, components.Dropdown):
        if block.multiselect:
            return (list,)
        kinds = {type(choice[1]) for choice in block.choices or []} or {str}
        if kinds & {int, float}:
            kinds |= {int, float}
        return (*kinds, type(None))
    if isinstance(block, components.Radio | components.Textbox):
        return (str,)
    return None


def parameter_names(block_fn: Any) -> list[str]:
    try:
        return [p.name for p in inspect.signature(block_fn.fn).parameters.values() if p.name != "progress"]
    except (TypeError, ValueError):
        return []


def describe_input(block_fn: Any, index: int) -> str:
    """'blend (Blend (how much ...))': the API parameter name and the component's label."""
    names = parameter_names(block_fn)
    block = block_fn.inputs[index]
    name = names[index] if index < len(names) else f"input {index + 1}"
    label = getattr(block, "label", None)
    return f"{name} ({label})" if label and label != name else name


def value_kind(value: Any) -> str:
    """'null', 'a list', 'a number', ... (never the value itself)."""
    if value is None:
        return "null"
    kind = {bool: "true/false", int: "number", float: "number", list: "list", dict: "dict"}.get(type(value), type(value).__name__)
    return f"{'an' if kind[0] in 'aeiou' else 'a'} {kind}"


def refusal(block_fn: Any, index: int, value: Any, reason: str | None = None) -> str:
    block = block_fn.inputs[index]
    shown = reason or (quote_prefix(value) if isinstance(value, str) else value_kind(value))
    return f"{describe_input(block_fn, index)} must be {expectation(block)}; got {shown}."


async def _bad_input(block_fn: Any, inputs: list[Any]) -> tuple[int, str | None] | None:
    """(index, reason) of the first input Gradio refuses, found again input by input after a refusal."""
    from gradio import processing_utils

    for index, block in enumerate(block_fn.inputs):
        value = inputs[index] if index < len(inputs) else None
        if value is None:
            continue
        try:
            await processing_utils.async_move_files_to_cache(value, block, check_in_upload_folder=True)
        except Exception:  # noqa: BLE001 - a FileData naming a server path or a URL
            return index, "a file that was not uploaded to this app (server paths and URLs are refused)"
        model = getattr(block, "data_model", None)
        try:
            if model is not None:
                model.model_validate(value, context={"validate_meta": True})
        except Exception:  # noqa: BLE001 - any refusal is what we look for
            return index, None
        if isinstance(block, components.Slider | components.Number) and not isinstance(value, int | float):
            return index, None
    return None


class FaceKitBlocks(gr.Blocks):
    """gr.Blocks whose refused inputs answer with a sentence (see the module notes)."""

    rate_limit_per_minute: int | None = None  # set in hosted mode: uploads + jobs per client per minute

    def launch(self, *args: Any, **kwargs: Any) -> Any:
        if self.rate_limit_per_minute:
            from starlette.middleware import Middleware

            from app.limits import RateLimit

            app_kwargs = dict(kwargs.pop("app_kwargs", None) or {})
            app_kwargs["middleware"] = [*app_kwargs.get("middleware", []), Middleware(RateLimit, per_minute=self.rate_limit_per_minute)]
            kwargs["app_kwargs"] = app_kwargs
        return super().launch(*args, **kwargs)

    async def preprocess_data(self, block_fn: Any, inputs: list[Any], state: Any, explicit_call: bool = False) -> Any:
        if len(inputs) < len(block_fn.inputs):
            names = ", ".join(parameter_names(block_fn)) or f"{len(block_fn.inputs)} values"
            raise gr.Error(f"This request has {len(inputs)} input value(s); {block_fn.name} takes {len(block_fn.inputs)}: {names}.")
        try:
            processed = await super().preprocess_data(block_fn, inputs, state, explicit_call)
        except gr.Error:
            raise
        except Exception as error:
            log.info("refused input to %s: %s", block_fn.name, type(error).__name__)
            found = await _bad_input(block_fn, inputs)
            if found is None and (index := _index_from_message(str(error))) is not None:
                found = (index, None)
            if found is None:
                raise gr.Error(f"One of the inputs to {block_fn.name} is not valid ({type(error).__name__}).") from None
            raise gr.Error(refusal(block_fn, found[0], inputs[found[0]], found[1])) from None
        if block_fn.preprocess:
            _check_types(block_fn, processed)
        return processed


def _index_from_message(message: str) -> int | None:
    marker = "component at index "
    if marker not in message:
        return None
    digits = message.split(marker, 1)[1].split(" ", 1)[0]
    return int(digits) if digits.isdigit() else None


def _check_types(block_fn: Any, values: list[Any]) -> None:
    for index, (block, value) in enumerate(zip(block_fn.inputs, values, strict=False)):
        types = _value_types(block)
        if types is None:
            continue
        if isinstance(value, bool) and bool not in types:  # True is an int, but not a number a slider means
            raise gr.Error(refusal(block_fn, index, value))
        if not isinstance(value, types):
            raise gr.Error(refusal(block_fn, index, value))
