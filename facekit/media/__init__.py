"""Media files beyond still photos: video (PyAV) and animations (Pillow)."""
