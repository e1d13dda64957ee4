"""FaceKit: face restoration, swapping and frontalization on ONNX Runtime."""

__version__ = "0.1.0"
