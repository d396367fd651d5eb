"""Frame-wise sound event detection (WHEN) for the EventSep text pipeline.

Modules: ``config`` (typed configs), ``features`` (log-mel front end, PANNs layout), ``model`` (the CRNN
detector), ``panns`` (public Cnn14 / Cnn14_DecisionLevelMax and their checkpoint loader), ``batches``
(training mixtures with frame labels), ``train``, ``calibrate`` (per-class thresholds), ``checkpoint``, ``metrics``, ``evaluate`` (evaluation
sets), ``infer`` (any file -> probabilities and active spans), ``mask`` (temporal masks), ``plot``, ``cli``.
"""
