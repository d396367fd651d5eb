"""ONNX export of Query-net and Separator (arrives with the ONNX-export issue)."""
