"""The "Mask" accordion shared by the Swap and Restore tabs (and the Analyze tab's mask debug view)."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from app.model_picker import best_ready, model_picker
from facekit.engine import Engine
from facekit.errors import FaceKitError
from facekit.face.mask import AREAS, DEFAULT_REGIONS, REGIONS
from facekit.masking import DEFAULT_BLUR, MASK_TYPES, MaskOptions

MASK_HELP = (
    "Which pixels of the processed face are pasted back. Leave the types empty for the automatic choice: box + region + "
    "occlusion when a face parser is ready (a hand, hair or glasses over the face stay as they are), else box + the "
    "landmark face area. The report's `models.mask` says which ran. Masks combine by minimum."
)


@dataclass(frozen=True)
class MaskControls:
    types: gr.CheckboxGroup
    regions: gr.CheckboxGroup
    areas: gr.CheckboxGroup
    blur: gr.Slider
    padding: gr.Textbox
    parser: gr.Dropdown

    def inputs(self) -> list[gr.components.Component]:
        return [self.types, self.regions, self.areas, self.blur, self.padding, self.parser]


def mask_accordion(engine: Engine, prefix: str) -> MaskControls:
    """The controls, in a closed accordion labelled "Mask"."""
    with gr.Accordion("Mask", open=False, elem_id=f"{prefix}-mask"):
        gr.Markdown(MASK_HELP)
        types = gr.CheckboxGroup(choices=list(MASK_TYPES), value=[], label="Mask types (empty: automatic)")
        regions = gr.CheckboxGroup(choices=list(REGIONS), value=list(DEFAULT_REGIONS), label="Regions (region mask; needs a parser)")
        areas = gr.CheckboxGroup(choices=list(AREAS), value=["face"], label="Areas (area mask, from the 68 landmarks)")
        blur = gr.Slider(0, 1, value=DEFAULT_BLUR, step=0.05, label="Mask blur")
        padding = gr.Textbox(value="0", label="Box padding, % of the crop: one value or top,right,bottom,left")
        no_parser = None if best_ready(engine, "parse") else "no parser is ready, so no region or occlusion mask (box + area)"
        parser = model_picker(engine, "parse", "Face parser (empty: best ready, or none)", f"{prefix}-parser", empty=no_parser)
    return MaskControls(types, regions, areas, blur, padding, parser)


def mask_options(
    types: list[str] | None, regions: list[str] | None, areas: list[str] | None, blur: float, padding: str | None, parser: str | None
) -> MaskOptions:
    """MaskOptions from the accordion's values (None = the defaults, for API callers that leave them out)."""
    for name, chosen in (("region", regions), ("area", areas)):
        if chosen is not None and len(chosen) == 0:
            raise FaceKitError(f"No {name} is ticked in the Mask settings.", f"Tick at least one {name}, or leave the defaults.")
    return MaskOptions.from_text(
        types=",".join(types or []),
        regions=",".join(regions) if regions else None,
        areas=",".join(areas) if areas else None,
        blur=DEFAULT_BLUR if blur is None else float(blur),
        padding=padding,
        parser=parser or None,
    )
