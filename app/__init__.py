"""The Gradio front end. Thin: every handler calls the engine."""

from app.main import build_demo

__all__ = ["build_demo"]
