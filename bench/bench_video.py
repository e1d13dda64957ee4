"""End-to-end speed of the video jobs on a generated 720p 30 fps clip (one face and four faces), and peak memory.

Run from the repository root:
    python -m bench.bench_video [--seconds 10] [--jobs swap,restore] [--faces 1,4] [--rss] [--serial]
                                [--preset veryfast] [--encode-threads N]

The clip is generated in a temporary folder (never committed): faces cut
from InsightFace's t1.jpg (~180 px wide) drifting over a smooth background,
with a sine audio track, encoded with libx264. Jobs: `mesh` swap with the
YuNet detector (../shared/models as a mirror) and `classic` restore with
YuNet, default video options (detect every frame, smoothing 0.5, identity
sampled every 30 frames, x264 veryfast CRF 20). Printed per run: end-to-end
frames/s, process CPU milliseconds per frame (all threads, including ONNX
Runtime's; on a shared machine this is the steadier number) and what that
would give on 2 free cores if the job were CPU-bound, and the share of the
wall time each stage took (decode and encode
run in their own threads, so shares can add up to more than 100 %).
"face work" is the per-face crop + swap/restore; "paste" the mask and paste back (the classic
restorer repairs in place, so its paste is part of its face work).
Because wall-time shares swing with the load of a shared machine, each row
also gives CPU shares: the CPU a plain copy of the clip (decode + encode
only, same x264 settings, all codec threads counted) takes per frame, plus
the tracking stage's seconds (wall time in one thread: an upper bound of its
CPU), over the job's CPU per frame.
`--preset` and `--encode-threads` set x264's preset and thread count
(default: veryfast, and the library's default thread count).
`--rss` runs the swap in child processes on a 10 s and a 60 s clip and
prints each child's peak RSS (the streaming design should keep them within
50 MB). `--serial` also runs with queue_size 0 (no decode/encode threads) to
show what the overlap buys.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import cv2
import insightface
import numpy as np

from facekit.analysis import AnalysisOptions
from facekit.engine import Engine, EngineConfig
from facekit.imageio import decode_image
from facekit.media.video import EncodeOptions, MediaReader, MediaWriter
from facekit.processors.restore import RestoreOptions
from facekit.processors.swap import SwapOptions
from facekit.processors.video import VideoOptions, restore_video, swap_video

T1 = Path(insightface.__file__).parent / "data" / "images" / "t1.jpg"
SHARED_MODELS = Path(__file__).resolve().parents[1].parent / "shared" / "models"
PATCHES = ((402, 250, 220), (688, 321, 190), (18, 230, 190), (1080, 250, 190))  # (x, y, side) around t1.jpg faces 2, 3, 0, 5
WIDTH, HEIGHT, FPS = 1280, 720, 30


def patches(size: int = 240) -> list[np.ndarray]:
    photo = decode_image(T1)
    return [cv2.resize(photo[y : y + side, x : x + side], (size, size), interpolation=cv2.INTER_AREA) for x, y, side in PATCHES]


def frame(index: int, faces: list[np.ndarray], backdrop: np.ndarray) -> np.ndarray:
    image = backdrop.copy()
    t = index / FPS
    slots = [(0.3, 0.5), (0.7, 0.5), (0.3, 0.25), (0.7, 0.75)] if len(faces) > 1 else [(0.5, 0.5)]
    for patch, (fx, fy) in zip(faces, slots, strict=False):
        x = int(WIDTH * fx + 60 * np.sin(t * 0.9)) - patch.shape[1] // 2
        y = int(HEIGHT * fy + 20 * np.cos(t * 0.7)) - patch.shape[0] // 2
        y, x = max(0, min(HEIGHT - patch.shape[0], y)), max(0, min(WIDTH - patch.shape[1], x))
        image[y : y + patch.shape[0], x : x + patch.shape[1]] = patch
    return image


def make_clip(path: Path, seconds: float, face_count: int) -> Path:
    faces = patches(240 if face_count == 1 else 200)[:face_count]
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    backdrop = np.stack([90 + 40 * np.sin(xx / 90.0), 110 + 30 * np.cos(yy / 70.0), 100 + 0 * xx], -1).astype(np.uint8)
    out = av.open(str(path), "w")
    video = out.add_stream("libx264", rate=FPS)
    video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    video.options = {"preset": "ultrafast", "crf": "20"}
    audio = out.add_stream("aac", rate=44100, layout="mono")
    for index in range(int(seconds * FPS)):
        picture = av.VideoFrame.from_ndarray(frame(index, faces, backdrop), format="bgr24")
        picture.pts = index
        for packet in video.encode(picture):
            out.mux(packet)
    samples = (0.2 * np.sin(2 * np.pi * 440 * np.arange(int(seconds * 44100)) / 44100)).astype(np.float32)
    for start in range(0, len(samples), 1024):
        chunk = av.AudioFrame.from_ndarray(samples[None, start : start + 1024], format="fltp", layout="mono")
        chunk.sample_rate, chunk.pts = 44100, start
        for packet in audio.encode(chunk):
            out.mux(packet)
    for packet in [*video.encode(), *audio.encode()]:
        out.mux(packet)
    out.close()
    return path


def engine(folder: Path) -> Engine:
    built = Engine(EngineConfig(models_dir=folder / "models", mirrors=(str(SHARED_MODELS),), offline=True))
    built.model_path("yunet_2023mar")  # copied from the mirror once
    return built


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def copy_cpu_per_frame(clip: Path, output: Path, encode: EncodeOptions) -> float:
    """Process CPU seconds per frame of decoding the clip and encoding it again (no face work; codec threads counted)."""
    started = cpu_seconds()
    with MediaReader(clip) as reader, MediaWriter(output, reader.info, {}, encode, reader.audio_stream) as writer:
        for item in reader.events():
            if isinstance(item, av.Packet):
                writer.write_audio(item)
            else:
                writer.write(item.image, item)
    return (cpu_seconds() - started) / max(1, writer.frames_written)


def run_job(
    kit: Engine, job: str, clip: Path, output: Path, queue_size: int, detect_every: int = 1, encode: EncodeOptions = EncodeOptions()
) -> dict:
    """The job's report, plus `cpu_per_frame`: process CPU seconds per frame (all threads; less sensitive to a busy machine)."""
    options = VideoOptions(analysis=AnalysisOptions(detector="yunet_2023mar"), queue_size=queue_size, detect_every=detect_every,
                           encode=encode)  # fmt: skip
    started = cpu_seconds()
    if job == "swap":
        source = cv2.resize(patches(300)[1], (300, 300))
        report = swap_video(kit, [source], clip, output, SwapOptions(model="mesh"), options).report
    else:
        report = restore_video(kit, clip, output, RestoreOptions(model="classic"), options).report
    report["cpu_per_frame"] = (cpu_seconds() - started) / max(1, report["frames"]["written"])
    return report


def shares(report: dict) -> dict[str, float]:
    seconds = report["seconds"]
    wall = seconds["wall"]
    return {name: 100.0 * value / wall for name, value in seconds.items() if name != "wall"}


def print_row(job: str, faces: int, queue_size: int, detect_every: int, report: dict, copy_cpu: float) -> None:
    share = shares(report)
    overhead = share.get("decode", 0) + share.get("encode", 0) + share.get("track", 0)
    frames = max(1, report["frames"]["written"])
    cpu_share = 100.0 * (copy_cpu + report["seconds"].get("track", 0.0) / frames) / report["cpu_per_frame"]
    stages = ("decode", "detect", "track", "face_work", "paste", "identity", "encode")
    cells = " | ".join(f"{share.get(name, 0.0):5.1f}%" for name in stages)
    mode = f"{'threads' if queue_size else 'serial'}, detect/{detect_every}"
    cpu = report["cpu_per_frame"]
    print(f"| {job} | {faces} | {mode} | {report['fps']:.2f} | {cpu * 1000:.0f} | {2.0 / cpu:.1f} | {cells} | {overhead:.1f}% "
          f"| {copy_cpu * 1000:.0f} | {cpu_share:.1f}% |")  # fmt: skip


def child(args: argparse.Namespace) -> None:
    """One swap in this process; print peak RSS (MB) and fps as JSON."""
    folder = Path(args.folder)
    kit = engine(folder)
    report = run_job(kit, "swap", Path(args.clip), folder / f"out_{Path(args.clip).stem}.mp4", 4)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps({"peak_rss_mb": round(peak, 1), "fps": report["fps"], "frames": report["frames"]["written"]}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--jobs", default="swap,restore")
    parser.add_argument("--faces", default="1,4")
    parser.add_argument("--rss", action="store_true", help="peak RSS of a 10 s and a 60 s swap, in child processes")
    parser.add_argument("--serial", action="store_true", help="also run without the decode/encode threads")
    parser.add_argument("--detect-every", type=int, default=1, help="also run detecting every N frames (N > 1)")
    parser.add_argument("--preset", default="veryfast", help="x264 preset (default veryfast)")
    parser.add_argument("--encode-threads", type=int, default=EncodeOptions().threads, help="x264 threads (0 = FFmpeg's choice)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--clip", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    with tempfile.TemporaryDirectory(prefix="bench_video_") as name:
        folder = Path(name)
        kit = engine(folder)
        encode = EncodeOptions(preset=args.preset, threads=args.encode_threads)
        print(f"720p {FPS} fps clip, {args.seconds:g} s; x264 {encode.preset}, threads {encode.threads}; shares of wall time per stage")
        print("| job | faces | mode | fps (wall) | CPU ms/frame | fps if 2 cores were free (CPU-bound) | decode | detect | track "
              "| face work | paste | identity | encode | dec+enc+track (wall) | dec+enc CPU ms/frame | dec+enc+track (CPU) |")  # fmt: skip
        print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for faces in (int(v) for v in args.faces.split(",")):
            started = time.perf_counter()
            clip = make_clip(folder / f"clip_{faces}.mp4", args.seconds, faces)
            print(f"(clip with {faces} face(s) generated in {time.perf_counter() - started:.1f} s)", file=sys.stderr)
            copy_cpu = copy_cpu_per_frame(clip, folder / "copy.mp4", encode)
            for job in args.jobs.split(","):
                modes = [(4, 1), (4, args.detect_every)] if args.detect_every > 1 else [(4, 1)]
                for queue_size, every in modes + ([(0, 1)] if args.serial else []):
                    report = run_job(kit, job, clip, folder / f"out_{job}_{faces}.mp4", queue_size, every, encode)
                    print_row(job, faces, queue_size, every, report, copy_cpu)
        if args.rss:
            for seconds in (10.0, 60.0):
                clip = make_clip(folder / f"rss_{int(seconds)}.mp4", seconds, 1)
                done = subprocess.run(
                    [sys.executable, "-m", "bench.bench_video", "--child", "--clip", str(clip), "--folder", str(folder)],
                    capture_output=True, text=True, check=True,
                )  # fmt: skip
                print(f"swap, 1 face, {seconds:g} s clip: {done.stdout.strip()}")


if __name__ == "__main__":
    main()
