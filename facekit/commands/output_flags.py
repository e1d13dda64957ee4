"""The result-file flags shared by `restore`, `swap` and `frontalize`: --format png|jpeg|webp and --quality N."""

from __future__ import annotations

import argparse
import os

from facekit.image_encode import OUTPUT_FORMATS, OutputFormat


def add_output_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("result files")
    group.add_argument("--format", dest="output_format", choices=OUTPUT_FORMATS,
                       help="png (lossless), jpeg or webp (small files); each carries the AI-edited provenance "
                            "(default: from -o's suffix when it names one, else png)")
    group.add_argument("--quality", type=int, metavar="N", help="JPEG / WebP quality 1..100 (default 92 / 90)")


def output_format_from_args(args: argparse.Namespace) -> OutputFormat:
    """--format (or, without it, the format -o's suffix names; else PNG) with --quality."""
    if args.output_format is not None:
        return OutputFormat(args.output_format, args.quality)
    named = OutputFormat.for_suffix(os.path.splitext(str(args.output))[1], args.quality)
    return named if named is not None else OutputFormat("png", args.quality)
