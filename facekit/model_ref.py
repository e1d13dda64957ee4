"""`ModelRef`: how every option names a model - a manifest id, a user's file with its family, or the best ready one.

One check lives here instead of in every job's options: a model id and a file
are not both given, and a file names a family that serves the task and may
be used with `--model-file`. `engine.load(task, ref)` (and the typed
accessors `engine.restorer(ref)`, ...) take a ModelRef.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from facekit.adapters.families import FAMILIES, families_for
from facekit.errors import FaceKitError


@dataclass(frozen=True)
class ModelRef:
    """A manifest id, or a file + family, or neither (= the best ready model of the task)."""

    model_id: str | None = None
    file: Path | None = None
    family: str | None = None  # the family of `file` (ignored without a file)

    def __post_init__(self) -> None:
        if self.model_id is not None and self.file is not None:
            raise FaceKitError("Both a model id and a model file were given.", "Use --model ID or --model-file PATH, not both.")
        if self.file is not None:
            object.__setattr__(self, "file", Path(self.file))
            if self.family is None:
                raise FaceKitError(f"The model file {Path(self.file).name} needs its family.", "Pass --family with --model-file.")
        else:
            object.__setattr__(self, "family", None)

    @classmethod
    def best(cls) -> ModelRef:
        return cls()

    @classmethod
    def of(cls, model_id: str | None = None, file: str | Path | None = None, family: str | None = None) -> ModelRef:
        """Build from an option's (id, file, family) fields; empty strings mean 'not given'."""
        return cls(model_id=model_id or None, file=Path(file) if file else None, family=family if file else None)

    @classmethod
    def for_task(cls, task: str, model_id: str | None = None, file: str | Path | None = None, family: str | None = None) -> ModelRef:
        """Like :meth:`of`, and check at once that a file's family serves `task` (for options' own validation)."""
        ref = cls.of(model_id, file, family)
        ref.check_family(task)
        return ref

    @property
    def is_best(self) -> bool:
        return self.model_id is None and self.file is None

    @property
    def label(self) -> str:
        """What reports call the model: its id, `file:NAME`, or `best` before it is resolved."""
        if self.file is not None:
            return f"file:{self.file.name}"
        return self.model_id or "best"

    def check_family(self, task: str) -> None:
        """For a file: its family exists, serves `task`, and may be used with a user's file."""
        if self.file is None:
            return
        allowed = families_for(task, model_file=True)
        family = FAMILIES.get(self.family or "")
        if family is None or family.task != task or not family.model_file:
            what = "an unknown family" if family is None else f"a {family.task} family" if family.task != task else "a built-in family"
            hint = f"Use --family {' or '.join(allowed)}." if allowed else f"No {task} family takes a model file."
            raise FaceKitError(f"{self.family!r} is {what}, not a family of {task} model files.", hint)
