"""The Mask accordion through the app's API: restore, swap and the Analyze tab's mask debug view."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from facekit.engine import Engine, EngineConfig
from helpers import insightface_image


@pytest.fixture(scope="module")
def masks_client(tmp_path_factory) -> Iterator[object]:
    from gradio_client import Client

    from app import build_demo

    folder = tmp_path_factory.mktemp("app_masks")
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(folder / "gradio"))
    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")
    demo = build_demo(Engine(EngineConfig(models_dir=folder / "models", offline=True)))
    _, url, _ = demo.launch(server_name="127.0.0.1", prevent_thread_lock=True, quiet=True)
    try:
        yield Client(url, verbose=False)
    finally:
        demo.close()
        monkeypatch.undo()


@pytest.mark.slow
def test_mask_settings_reach_restore_swap_and_the_debug_view(masks_client) -> None:
    from gradio_client import handle_file

    t1 = handle_file(str(insightface_image("t1.jpg")))
    hanks = handle_file(str(insightface_image("Tom_Hanks_54745.png")))
    _, _, report, _ = masks_client.predict(  # type: ignore[attr-defined]
        t1, "classic", 0.5, 0.8, "0", 1, None, None, 250, 100, 0.5, ["box"], ["skin"], ["face"], 0.2, "10", None, api_name="/restore"
    )
    assert report["models"]["mask"].endswith(" box")
    _, _, report, _ = masks_client.predict(  # type: ignore[attr-defined]
        hanks, t1, None, "4", "", 0.5, None, True, False, None, ["box", "area"], ["skin"], ["face", "mouth"], 0.3, "0", None,
        api_name="/swap",
    )
    assert report["models"]["mask"] == "box+area"
    picture, label = masks_client.predict(t1, None, 0.5, [], ["skin"], ["face"], 0.3, "0", None, api_name="/analyze_masks")  # type: ignore[attr-defined]
    assert label == "6 face(s); masks: box+area" and picture
    with pytest.raises(Exception, match="padding"):
        masks_client.predict(t1, None, 0.5, ["box"], ["skin"], ["face"], 0.3, "1,2", None, api_name="/analyze_masks")  # type: ignore[attr-defined]
