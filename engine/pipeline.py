"""The full EventSep text pipeline (SPEC §3): text -> class -> latent (WHAT), a probability curve that the
class sounds -> temporal mask (WHEN), U-Net and generative separator -> STFT-domain ensemble (HOW).

    es = EventSep()                                    # shipped U-Net, flow model, activity model, detector
    result = es.run(audio, rate, prompt="only the flute")
    result.estimate                                    # (nb_channels, nb_samples) at ``rate``

Order of work: the prompt is mapped first (a prompt that matches nothing stops before any audio work);
the class latent is the fine label's when the prompt names an instrument that has one, else the coarse
class's; both separators run at the U-Net's rate (22.05 kHz) and their estimates are combined
(``engine.ensemble``). The curve that gates the combination (``engine.detection.mask``) comes from the
*target-activity model* (``engine.activity``: the detector's network taking the mixture and the U-Net's
estimate of the class, fine-tuned to say when that one target sounds; ``when="activity"``, the default) or
from the detector on the mixture alone (``when="detector"``); either is *calibrated* by its per-class
threshold tuned on the valid split (that threshold maps to 0.5, so ``--threshold`` means the same for every
class).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from .audio import resample
from .ensemble import ENSEMBLES, EnsembleConfig, combine
from .errors import EventSepError
from .separate import overlap_add, separate_array
from .text_options import (DEFAULT_GATE_DEPTH_DB, DEFAULT_MASK, DEFAULT_PRESENCE, DEFAULT_RELATIVE, DEFAULT_STEPS,
                           MASKS, PRESENCE, WHENS, default_threshold)

if TYPE_CHECKING:
    from .detection.infer import Detection
    from .presence import Presence, PresenceCalibration

FLOW_SEGMENT_SECONDS = 10.0
RELATIVE_PERCENTILE = 95.0
RELATIVE_FLOOR = 0.2


@dataclass
class PipelineConfig:
    mask: str = DEFAULT_MASK
    # where the mask's knee (soft, root) or step (hard) sits on the curve; None: the mask's own default
    # (text_options.DEFAULT_THRESHOLDS, picked per mask on the valid sets)
    threshold: float | None = None
    when: str = "activity"
    ensemble: EnsembleConfig = field(default_factory=EnsembleConfig)
    steps: int = DEFAULT_STEPS
    calibrate: bool = True
    # scale the curve by its 95th percentile (at least RELATIVE_FLOOR): see probability(); the default is
    # text_options.DEFAULT_RELATIVE, picked with the mask on the valid sets
    relative: bool = DEFAULT_RELATIVE
    seed: int = 0
    # whether the class is in the file at all (engine.presence): "gate" (near-silence when not), "report", "off"
    presence: str = DEFAULT_PRESENCE
    gate_depth_db: float = DEFAULT_GATE_DEPTH_DB     # how far a gated output is turned down (dB)

    @property
    def mask_threshold(self) -> float:
        """The threshold the mask runs at: the one given, else the mask's own default."""
        return default_threshold(self.mask) if self.threshold is None else float(self.threshold)

    def check(self) -> None:
        if self.presence not in PRESENCE:
            raise EventSepError(f"--presence must be one of {', '.join(PRESENCE)}, got {self.presence!r}")
        if not 0.0 <= self.gate_depth_db <= 200.0:
            raise EventSepError(f"--gate-depth must be between 0 and 200 dB, got {self.gate_depth_db}")
        if self.mask not in MASKS:
            raise EventSepError(f"--mask must be one of {', '.join(MASKS)}, got {self.mask!r}")
        if self.threshold is not None and not 0.0 < self.threshold <= 1.0:
            raise EventSepError(f"--threshold must be in (0, 1], got {self.threshold}")
        if not 1 <= self.steps <= 200:
            raise EventSepError(f"--steps must be between 1 and 200, got {self.steps}")
        if self.when not in WHENS:
            raise EventSepError(f"--when must be one of {', '.join(WHENS)}, got {self.when!r}")
        if self.ensemble.mode not in ENSEMBLES:
            raise EventSepError(f"--ensemble must be one of {', '.join(ENSEMBLES)}, got {self.ensemble.mode!r}")
        try:
            self.ensemble.check()
        except ValueError as e:
            raise EventSepError(str(e)) from None


@dataclass
class Target:
    """What the prompt resolved to."""

    coarse: str
    fine: str | None
    level: str                 # "fine" or "coarse": whose latent conditions the separators
    score: float | None        # text-match score (None for a class name)
    prompt: str


@dataclass
class PipelineResult:
    estimate: np.ndarray       # (nb_channels, nb_samples) at sample_rate, masked ensemble
    unmasked: np.ndarray       # the ensemble before the temporal mask
    sample_rate: int
    target: Target
    prob: np.ndarray           # (frames,) calibrated probability of the class
    frame_seconds: float
    gain: np.ndarray           # (nb_samples,) the temporal mask
    seconds: dict[str, float]  # time per stage
    ensemble_info: dict
    presence: "Presence | None" = None   # the WHETHER decision (None: not judged)


def calibrate_curve(prob: np.ndarray, threshold: float) -> np.ndarray:
    """Piecewise-linear map of [0, 1] onto itself taking the class's tuned threshold to 0.5."""
    t = float(np.clip(threshold, 1e-3, 1 - 1e-3))
    p = np.asarray(prob, np.float64)
    return np.where(p < t, 0.5 * p / t, 0.5 + 0.5 * (p - t) / (1 - t)).astype(np.float32)


def relative_curve(prob: np.ndarray) -> np.ndarray:
    """``prob`` divided by its 95th percentile (at least ``RELATIVE_FLOOR``), clipped to 1 (see
    :meth:`EventSep.probability` for why)."""
    if not len(prob):
        return prob
    return np.clip(prob / max(float(np.percentile(prob, RELATIVE_PERCENTILE)), RELATIVE_FLOOR), 0.0, 1.0)


class EventSep:
    """The pipeline with its three models loaded once (folders default to the shipped ones)."""

    def __init__(self, model_dir: str | Path | None = None, flow_dir: str | Path | None = None,
                 detector_dir: str | Path | None = None, config: PipelineConfig | None = None,
                 activity_dir: str | Path | None = None, presence_path: str | Path | None = None):
        from .checkpoint import load_latents, load_model
        from .shipped import model_dir as _model_dir
        from .detection.checkpoint import load_detector

        self.config = config or PipelineConfig()
        self.config.check()
        self.model_dir = _model_dir(str(model_dir) if model_dir else None)
        self.unet, _ = load_model(self.model_dir)
        self.unet.eval()
        self.latents = load_latents(self.model_dir)
        self.detector, meta = load_detector(detector_dir)
        self.thresholds = meta.get("thresholds") or {}
        self._flow_dir = flow_dir
        self._flow = None
        self._activity_dir = activity_dir
        self._activity = None
        self._presence_path = presence_path
        self._presence = None

    @property
    def flow(self):
        if self._flow is None:
            from .flow.checkpoint import load_flow

            self._flow, _ = load_flow(self._flow_dir)
        return self._flow

    @property
    def activity(self):
        """The target-activity model and its metadata (loaded on first use)."""
        if self._activity is None:
            from .activity.infer import load_activity

            self._activity = load_activity(self._activity_dir)
        return self._activity

    @property
    def presence_calibration(self) -> "PresenceCalibration":
        """The WHETHER calibration (loaded on first use)."""
        if self._presence is None:
            from .presence import PresenceCalibration

            self._presence = PresenceCalibration.load(self._presence_path)
        return self._presence

    def presence_stale(self) -> bool:
        """True when the calibration was fitted to another separator than the one loaded."""
        from .presence import separator_identity

        fitted = self.presence_calibration.separator.get("weights_sha256")
        return fitted is not None and fitted != separator_identity(self.model_dir)["weights_sha256"]

    def activity_curve(self, audio: np.ndarray, sample_rate: int, estimate: np.ndarray, coarse: str
                       ) -> "tuple[np.ndarray, float] | None":
        """The target-activity model's raw ``(frames,)`` curve of ``coarse`` from ``audio`` and the
        separator's ``estimate`` of it, and its frame length (s); None when the model has no output for the
        class. WHETHER and WHEN both read it: a caller that needs both computes it once and passes it on."""
        from .activity.infer import target_activity

        model, _ = self.activity
        if coarse not in model.classes:
            return None
        return target_activity(model, audio, estimate, sample_rate, coarse)

    def presence_evidence(self, audio: np.ndarray, sample_rate: int, estimate: np.ndarray, coarse: str,
                          on_mixture: "Detection | None" = None,
                          activity: "tuple[np.ndarray, float] | None" = None) -> np.ndarray | None:
        """The WHETHER features (:func:`engine.presence.presence_features`) of ``coarse`` in ``audio``, from
        the separator's ``estimate`` of it (like ``audio``), the detector and the target-activity model; None
        when the detector or the activity model has no output for the class. What the calibration is fitted
        on (``engine.presence_fit``) and judges. ``on_mixture``: the detector's output on ``audio``, and
        ``activity``: :meth:`activity_curve`'s answer, when the caller has them already."""
        from .detection.infer import detect
        from .presence import level_db, presence_features

        on_mix = on_mixture or detect(self.detector, audio, sample_rate)
        activity = activity or self.activity_curve(audio, sample_rate, estimate, coarse)
        if coarse not in on_mix.classes or activity is None:
            return None
        on_est = detect(self.detector, estimate, sample_rate)
        return presence_features(level_db(audio, estimate), on_mix.curve(coarse), on_est.curve(coarse),
                                 activity[0])

    def presence_of(self, audio: np.ndarray, sample_rate: int, estimate: np.ndarray, coarse: str,
                    on_mixture: "Detection | None" = None,
                    activity: "tuple[np.ndarray, float] | None" = None) -> "Presence | None":
        """Is ``coarse`` in ``audio`` at all? The calibration's decision on :meth:`presence_evidence`."""
        from .presence import judge

        features = self.presence_evidence(audio, sample_rate, estimate, coarse, on_mixture, activity)
        return None if features is None else judge(self.presence_calibration, features)

    # -- WHAT ----------------------------------------------------------------------------------------
    def resolve(self, prompt: str | None = None, class_name: str | None = None) -> Target:
        """A text prompt (needs the text extra) or a class name -> :class:`Target`."""
        from .taxonomy import find_class, fine_to_coarse

        if (prompt is None) == (class_name is None):
            raise EventSepError("give exactly one of a prompt or a class name")
        if class_name is not None:
            found = find_class(self.latents, class_name)
            if found is None:
                raise EventSepError(f"unknown class {class_name!r}; see 'eventsep classes'")
            level, key = found
            coarse = key if level == "coarse" else fine_to_coarse(key)
            return Target(coarse, key if level == "fine" else None, level, None, class_name)
        from .textquery import map_prompt

        match = map_prompt(prompt)
        if match.coarse is None:
            raise EventSepError(f"the prompt {prompt!r} matches no class of the taxonomy: {match.reason}")
        if match.coarse not in self.latents["coarse"]:
            # the phrase it matched says why: "only the voice" is closest to "spoken voice" (speech), which a
            # user who meant singing reads as a contradiction of "voice" in the list below
            named = f"{match.coarse}" + (f" ({match.fine})" if match.fine else "") + \
                (f", matched by '{match.phrase}'" if match.phrase else "")
            raise EventSepError(f"the prompt {prompt!r} names {named}, a class this separator was not trained "
                                f"on; it separates: {', '.join(sorted(self.latents['coarse']))}")
        level = "fine" if match.fine and match.fine in self.latents["fine"] else "coarse"
        return Target(match.coarse, match.fine, level, match.score, prompt)

    def latent(self, target: Target) -> torch.Tensor:
        return self.latents[target.level][target.fine if target.level == "fine" else target.coarse]

    # -- HOW + WHEN ----------------------------------------------------------------------------------
    def separators(self, audio: np.ndarray, sample_rate: int, z: torch.Tensor, cfg: PipelineConfig,
                   unet: bool = True, flow: bool = True, progress: bool = False
                   ) -> tuple[np.ndarray | None, np.ndarray | None, dict[str, float]]:
        """U-Net and generative estimates of ``(nb_channels, nb_samples)`` audio, at ``sample_rate``."""
        from .flow.sampler import flow_separate

        rate = self.unet.config.sample_rate
        mix = torch.from_numpy(resample(audio, sample_rate, rate))
        seconds = {}
        est_u = est_f = None
        t = time.perf_counter()
        if unet:      # exactly what `eventsep separate` gives (for a streamable model: the live effect's output)
            est_u = separate_array(self.unet, audio, sample_rate, z, progress=progress).estimate
        seconds["unet"] = time.perf_counter() - t
        t = time.perf_counter()
        if flow:
            model = self.flow
            prior = self.unet.separator if model.config.prior else None

            def fn(chunk: torch.Tensor, zb: torch.Tensor) -> torch.Tensor:
                return flow_separate(model, chunk, zb, cfg.steps, seed=cfg.seed, prior_mask=prior)
            est = overlap_add(fn, mix, z, int(FLOW_SEGMENT_SECONDS * rate), batch_chunks=1, progress=progress,
                              desc="generate")
            est_f = _fit(resample(est.numpy(), rate, sample_rate), audio.shape[-1])
        seconds["flow"] = time.perf_counter() - t
        return est_u, est_f, seconds

    def probability(self, audio: np.ndarray, sample_rate: int, coarse: str, calibrate: bool = True,
                    relative: bool = DEFAULT_RELATIVE, estimate: np.ndarray | None = None,
                    on_mixture: "Detection | None" = None,
                    activity: "tuple[np.ndarray, float] | None" = None) -> tuple[np.ndarray, float]:
        """The probability curve ``(frames,)`` that ``coarse`` sounds, and its frame length: from the
        target-activity model when ``estimate`` (a separated estimate of the class, like ``audio``) is
        given, else from the detector on ``audio`` alone.

        ``calibrate``: the class's tuned threshold maps to 0.5 (:func:`calibrate_curve`). ``relative``: the
        curve is divided by its 95th percentile (at least ``RELATIVE_FLOOR``) and clipped to 1. Why: the
        user asserts the class is in the file, and the detector is less sure of a class inside a dense
        mix than on its valid split, so its curve often stays low where the class sounds yet is lower
        still where it does not; scaled, the mask follows that contrast. The floor keeps a class the
        detector does not hear at all from being scaled up. Measured in docs/eventsep.md.
        ``on_mixture``: the detector's output on ``audio``, and ``activity``: :meth:`activity_curve`'s answer
        for ``estimate``, when the caller has them already.
        """
        from .detection.infer import detect

        if estimate is not None:
            thresholds = self.activity[1].get("thresholds") or {}
            activity = activity or self.activity_curve(audio, sample_rate, estimate, coarse)
            if activity is None:
                return self.probability(audio, sample_rate, coarse, calibrate, relative)
            prob, frame_seconds = activity
        else:
            det = on_mixture or detect(self.detector, audio, sample_rate)
            if coarse not in det.classes:   # the detector has no output for it: no evidence to gate by
                return np.ones(len(det.probs), np.float32), det.frame_seconds
            prob, frame_seconds, thresholds = det.curve(coarse), det.frame_seconds, self.thresholds
        if calibrate:
            prob = calibrate_curve(prob, float(thresholds.get(coarse, 0.5)))
        if relative:
            prob = relative_curve(prob)
        return prob.astype(np.float32), frame_seconds

    @staticmethod
    def assemble(unet: np.ndarray | None, flow: np.ndarray | None, prob: np.ndarray, frame_seconds: float,
                 sample_rate: int, cfg: PipelineConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
        """Ensemble then temporal mask: ``(estimate, unmasked, gain, ensemble info)``."""
        from .detection.mask import temporal_mask

        if unet is None or flow is None or cfg.ensemble.mode in ("unet", "flow"):
            combined = unet if (cfg.ensemble.mode != "flow" and unet is not None) else flow
            info = {"lag_samples": 0}
        else:
            combined, info = combine(unet, flow, sample_rate, cfg.ensemble)
        n = combined.shape[-1]
        gain = temporal_mask(prob, n, sample_rate, cfg.mask, cfg.mask_threshold, frame_seconds)
        return (combined * gain).astype(np.float32), combined, gain, info

    def run(self, audio: np.ndarray, sample_rate: int, prompt: str | None = None, class_name: str | None = None,
            config: PipelineConfig | None = None, progress: bool = False, target: Target | None = None
            ) -> PipelineResult:
        """Separate ``(nb_channels, nb_samples)`` (or ``(nb_samples,)``) audio at any rate; ``target``: an
        already resolved prompt (a batch resolves it once), instead of ``prompt`` / ``class_name``."""
        cfg = config or self.config
        cfg.check()
        t = time.perf_counter()
        target = target or self.resolve(prompt, class_name)
        seconds = {"text": time.perf_counter() - t}
        audio = np.asarray(audio, np.float32)
        if audio.ndim == 1:
            audio = audio[None]
        if not np.isfinite(audio).all():
            audio = np.nan_to_num(audio, nan=0.0, posinf=0.0, neginf=0.0)
        if audio.shape[-1] < int(0.05 * sample_rate):
            raise EventSepError(f"the input is too short ({audio.shape[-1] / sample_rate * 1000:.0f} ms); "
                                f"give at least 50 ms")
        mode = cfg.ensemble.mode
        activity = cfg.mask != "none" and cfg.when == "activity"
        judged = cfg.presence != "off"
        unet, flow, sep_seconds = self.separators(audio, sample_rate, self.latent(target), cfg,
                                                  unet=mode != "flow" or activity or judged, flow=mode != "unet",
                                                  progress=progress)
        seconds.update(sep_seconds)
        presence = on_mixture = curve = None
        if judged:
            from .detection.infer import detect

            t = time.perf_counter()
            on_mixture = detect(self.detector, audio, sample_rate)     # WHETHER's, and WHEN's without activity
            curve = self.activity_curve(audio, sample_rate, unet, target.coarse)     # and WHEN's with it
            presence = self.presence_of(audio, sample_rate, unet, target.coarse, on_mixture, curve)
            seconds["whether"] = time.perf_counter() - t
        t = time.perf_counter()
        prob, frame_seconds = self.probability(audio, sample_rate, target.coarse, cfg.calibrate, cfg.relative,
                                               estimate=unet if activity else None, on_mixture=on_mixture,
                                               activity=curve)
        seconds["when"] = time.perf_counter() - t
        t = time.perf_counter()
        estimate, combined, gain, info = self.assemble(unet, flow, prob, frame_seconds, sample_rate, cfg)
        estimate = gated_output(estimate, presence, cfg)
        seconds["ensemble+mask"] = time.perf_counter() - t
        return PipelineResult(estimate, combined, sample_rate, target, prob, frame_seconds, gain, seconds, info,
                              presence)


def gate_gain_db(presence: "Presence | None", cfg: PipelineConfig) -> float:
    """The output's gain from WHETHER, in dB: ``-cfg.gate_depth_db`` when it gates (``cfg.presence ==
    "gate"`` and the score is under the gate threshold), else 0."""
    return -cfg.gate_depth_db if cfg.presence == "gate" and presence is not None and presence.gated else 0.0


def gated_output(estimate: np.ndarray, presence: "Presence | None", cfg: PipelineConfig) -> np.ndarray:
    """``estimate`` as the pipeline gives it back: turned down by :func:`gate_gain_db`."""
    gain_db = gate_gain_db(presence, cfg)
    if gain_db:
        return (estimate * np.float32(10.0 ** (gain_db / 20.0))).astype(estimate.dtype)
    return estimate


def _fit(x: np.ndarray, n: int) -> np.ndarray:
    from .audio import match_length

    return np.asarray(match_length(x, n), np.float32)


def with_options(config: PipelineConfig, **changes) -> PipelineConfig:
    """A copy of ``config`` with top-level or ensemble fields changed (``mode=``, ``weight=`` ...)."""
    ens = {k: changes.pop(k) for k in list(changes) if k in EnsembleConfig.__dataclass_fields__}
    return replace(config, ensemble=replace(config.ensemble, **ens), **changes)
