"""Batch runs: inputs (files, folders, globs, list files; local or any pyarrow filesystem) -> outputs + report rows.

Modules: inputs (listing and naming), storage (read/list/atomic write),
jobs (picklable job specs), execute (one input, the same on every backend),
local (the default runner), results (the results table), backend (CLI
flags and dispatch), ray_backend (Ray Data; optional `ray` extra).
"""

from facekit.batch.inputs import IMAGE_SUFFIXES, BatchItem, iter_inputs, plan_items
from facekit.batch.local import EXIT_DISK_FULL, EXIT_INTERRUPTED, EXIT_SOME_FAILED, run_batch

__all__ = [
    "EXIT_DISK_FULL",
    "EXIT_INTERRUPTED",
    "EXIT_SOME_FAILED",
    "IMAGE_SUFFIXES",
    "BatchItem",
    "iter_inputs",
    "plan_items",
    "run_batch",
]
