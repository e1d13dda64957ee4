"""The paste-mask flags shared by `restore` and `swap`: --mask, --regions, --areas, --mask-blur, --mask-padding, --parser."""

from __future__ import annotations

import argparse
from pathlib import Path

from facekit.face.mask import AREAS, REGIONS
from facekit.masking import DEFAULT_BLUR, MASK_TYPES, MaskOptions


def add_mask_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("paste mask")
    group.add_argument("--mask", metavar="TYPES",
                       help=f"masks combined by minimum, from {','.join(MASK_TYPES)} (default: box,region,occlusion "
                            "when a face parser is ready, else box,area; the report's models.mask says which ran)")
    group.add_argument("--regions", metavar="LIST", help=f"region mask classes, from {','.join(REGIONS)} "
                                                         "(default skin,brows,eyes,glasses,nose,mouth,lips)")
    group.add_argument("--areas", metavar="LIST", help=f"area mask parts from the 68 landmarks, from {','.join(AREAS)} (default face)")
    group.add_argument("--mask-blur", type=float, default=DEFAULT_BLUR, help=f"mask edge softness 0..1 (default {DEFAULT_BLUR})")
    group.add_argument("--mask-padding", metavar="T[,R,B,L]", help="box mask padding in %% of the crop: one value or top,right,bottom,left")
    group.add_argument("--parser", metavar="ID", help="face parser model id (default: the best ready one; `models list --task parse`)")
    group.add_argument("--parser-file", metavar="PATH", help="your own BiSeNet ONNX face parser")


def mask_options_from_args(args: argparse.Namespace) -> MaskOptions:
    return MaskOptions.from_text(
        types=args.mask,
        regions=args.regions,
        areas=args.areas,
        blur=args.mask_blur,
        padding=args.mask_padding,
        parser=args.parser,
        parser_file=Path(args.parser_file) if args.parser_file else None,
    )
