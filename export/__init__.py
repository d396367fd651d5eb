"""ONNX export of the Query-net and the Separator for the streaming runtime (``engine.streaming``).

``eventsep export CKPT --out DIR`` (:mod:`export.cli`) -> :func:`export.onnx_export.export_checkpoint`: two
graphs with dynamic batch and time axes, stamped with the bundle metadata (:mod:`export.metadata`), reloaded
in onnxruntime and compared with PyTorch before anything is written. :mod:`export.graphs` holds the exported
wrappers, :mod:`export.torch_backend` the PyTorch twin of the runtime's ONNX models. See docs/streaming.md.
This package needs torch; the runtime does not.
"""
