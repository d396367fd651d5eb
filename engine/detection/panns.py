"""The public PANNs Cnn14 and Cnn14_DecisionLevelMax (Kong et al. 2020), and a checkpoint loader.

Layer names and shapes follow ``audioset_tagging_cnn/pytorch/models.py`` + torchlibrosa, so the published
checkpoints (e.g. ``Cnn14_DecisionLevelMax_mAP=0.385.pth``: 32 kHz, window 1024, hop 320, 64 mels,
50-14000 Hz, 527 AudioSet classes) load key for key with ``torch.load(..., weights_only=True)``.
AudioSet labels (``class_labels_indices.csv``: index, mid, display_name) are mapped onto our coarse classes
where they correspond (:data:`AUDIOSET_TO_COARSE`); a class's probability is the max over its labels.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import EventSepError
from .config import FrontEndConfig
from .features import LogmelFilterBank, Spectrogram
from .model import ConvBlock, log_mel_bn

PANNS_WIDTHS = (64, 128, 256, 512, 1024, 2048)

# AudioSet display names -> our coarse classes (only labels that clearly mean one of them).
AUDIOSET_TO_COARSE: dict[str, str] = {
    "Piano": "piano", "Electric piano": "piano", "Keyboard (musical)": "piano", "Harpsichord": "piano",
    "Bass guitar": "bass", "Guitar": "guitar", "Electric guitar": "guitar", "Acoustic guitar": "guitar",
    "Steel guitar, slide guitar": "guitar", "Strum": "guitar",
    "Bowed string instrument": "strings", "String section": "strings", "Violin, fiddle": "strings",
    "Cello": "strings", "Double bass": "strings", "Pizzicato": "strings", "Harp": "strings",
    "Synthesizer": "synth_pad", "Flute": "pipe", "Brass instrument": "brass", "French horn": "brass",
    "Trumpet": "brass", "Trombone": "brass", "Drum kit": "drums", "Drum": "drums", "Snare drum": "drums",
    "Bass drum": "drums", "Hi-hat": "drums", "Cymbal": "drums", "Drum machine": "drums", "Drum roll": "drums",
    "Rimshot": "drums", "Organ": "organ", "Electronic organ": "organ", "Hammond organ": "organ",
    "Accordion": "organ", "Harmonica": "organ", "Saxophone": "reed", "Clarinet": "reed", "Oboe": "reed",
    "Bassoon": "reed", "Choir": "voice", "Singing": "voice", "Male singing": "voice", "Female singing": "voice",
    "Marimba, xylophone": "chromatic_percussion", "Vibraphone": "chromatic_percussion",
    "Glockenspiel": "chromatic_percussion", "Music box": "chromatic_percussion",
    "Tubular bells": "chromatic_percussion", "Sitar": "ethnic", "Banjo": "ethnic", "Bagpipes": "ethnic",
    "Koto": "ethnic", "Shamisen": "ethnic", "Zither": "ethnic", "Timpani": "percussive",
    "Steelpan": "percussive", "Wood block": "percussive", "Applause": "sound_effects",
    "Gunshot, gunfire": "sound_effects", "Helicopter": "sound_effects", "Telephone bell ringing": "sound_effects",
    "Bird vocalization, bird call, bird song": "sound_effects", "Speech": "speech",
    "Male speech, man speaking": "speech", "Female speech, woman speaking": "speech", "Narration, monologue": "speech",
}


@dataclass
class PannsConfig:
    """Constructor arguments of the PANNs models (the published checkpoints' values by default)."""

    sample_rate: int = 32000
    window_size: int = 1024
    hop_size: int = 320
    mel_bins: int = 64
    fmin: float = 50.0
    fmax: float = 14000.0
    classes_num: int = 527
    widths: tuple[int, ...] = PANNS_WIDTHS     # smaller widths only for tests

    def front(self) -> FrontEndConfig:
        return FrontEndConfig(sample_rate=self.sample_rate, n_fft=self.window_size, hop=self.hop_size,
                              n_mels=self.mel_bins, fmin=self.fmin, fmax=self.fmax, align="panns")


class _Cnn14Body(nn.Module):
    """Shared trunk: log-mel -> bn0 -> 6 ConvBlocks (avg pool 2x2, last 1x1) -> mean over mel.
    ``(B, N) -> (B, C, T / 32)``."""

    def __init__(self, cfg: PannsConfig):
        super().__init__()
        self.config = cfg
        self.spectrogram_extractor = Spectrogram(cfg.front())
        self.logmel_extractor = LogmelFilterBank(cfg.front())
        self.bn0 = nn.BatchNorm2d(cfg.mel_bins)
        chans = (1,) + tuple(cfg.widths)
        for i, (a, b) in enumerate(zip(chans[:-1], chans[1:]), start=1):
            setattr(self, f"conv_block{i}", ConvBlock(a, b))
        self.fc1 = nn.Linear(cfg.widths[-1], cfg.widths[-1])
        self.fc_audioset = nn.Linear(cfg.widths[-1], cfg.classes_num)

    def trunk(self, audio: torch.Tensor) -> torch.Tensor:
        x = log_mel_bn(self.spectrogram_extractor, self.logmel_extractor, self.bn0, audio)
        n = len(self.config.widths)
        for i in range(1, n + 1):
            x = getattr(self, f"conv_block{i}")(x, (2, 2) if i < n else (1, 1))
        return x.mean(dim=3)


class Cnn14(_Cnn14Body):
    """Clip-level tagger. ``(B, N) -> {"clipwise_output": (B, classes), "embedding": (B, C)}``."""

    def forward(self, audio: torch.Tensor) -> dict[str, torch.Tensor]:
        x = self.trunk(audio)
        x = x.max(dim=2).values + x.mean(dim=2)
        emb = F.relu(self.fc1(x))
        return {"clipwise_output": torch.sigmoid(self.fc_audioset(emb)), "embedding": emb}


class Cnn14DecisionLevelMax(_Cnn14Body):
    """Frame-level tagger. ``(B, N) -> {"framewise_output": (B, 1 + N // hop, classes),
    "clipwise_output": (B, classes)}``; the segment outputs (one per 32 frames) are repeated back to the
    frame rate as PANNs' ``interpolate`` + ``pad_framewise_output`` do."""

    def forward(self, audio: torch.Tensor) -> dict[str, torch.Tensor]:
        frames = 1 + audio.shape[-1] // self.config.hop_size
        x = self.trunk(audio)
        x = F.max_pool1d(x, 3, 1, 1) + F.avg_pool1d(x, 3, 1, 1)
        x = F.relu(self.fc1(x.transpose(1, 2)))
        seg = torch.sigmoid(self.fc_audioset(x))                          # (B, T/32, classes)
        ratio = 2 ** (len(self.config.widths) - 1)
        framewise = seg.repeat_interleave(ratio, dim=1)
        if framewise.shape[1] < frames:
            framewise = torch.cat([framewise, framewise[:, -1:].expand(-1, frames - framewise.shape[1], -1)], 1)
        return {"framewise_output": framewise[:, :frames], "clipwise_output": seg.max(dim=1).values}


ARCHITECTURES = {"Cnn14": Cnn14, "Cnn14_DecisionLevelMax": Cnn14DecisionLevelMax}


def read_audioset_labels(path: str | Path) -> list[str]:
    """Display names in index order from AudioSet's ``class_labels_indices.csv``."""
    path = Path(path)
    if not path.is_file():
        raise EventSepError(f"{path}: no such file (AudioSet's class_labels_indices.csv)")
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or not {"index", "display_name"} <= set(rows[0]):
        raise EventSepError(f"{path}: expected the columns index, mid, display_name")
    rows.sort(key=lambda r: int(r["index"]))
    return [r["display_name"] for r in rows]


def coarse_map(labels: list[str]) -> dict[str, list[int]]:
    """``{coarse class: [AudioSet indices]}`` for the labels that correspond to one of our classes."""
    out: dict[str, list[int]] = {}
    for i, name in enumerate(labels):
        c = AUDIOSET_TO_COARSE.get(name)
        if c:
            out.setdefault(c, []).append(i)
    return out


def _state_dict(obj) -> dict[str, torch.Tensor]:
    # published checkpoints are {"model": state_dict, "iteration": ...}; a bare state dict works too
    if isinstance(obj, dict) and "model" in obj and isinstance(obj["model"], dict):
        obj = obj["model"]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise EventSepError("not a PANNs checkpoint: expected a state dict (or {'model': state dict})")
    return {k.removeprefix("module."): v for k, v in obj.items()}


def infer_config(state: dict[str, torch.Tensor]) -> PannsConfig:
    """Read sizes off the tensors (window from the STFT kernels, mel bins, widths, class count)."""
    try:
        n_fft = state["spectrogram_extractor.stft.conv_real.weight"].shape[-1]
        mel_bins = state["logmel_extractor.melW"].shape[1]
        widths = []
        i = 1
        while f"conv_block{i}.conv1.weight" in state:
            widths.append(state[f"conv_block{i}.conv1.weight"].shape[0])
            i += 1
        classes = state["fc_audioset.weight"].shape[0]
    except KeyError as e:
        raise EventSepError(f"not a Cnn14-family checkpoint: no {e.args[0]}") from None
    return PannsConfig(window_size=n_fft, mel_bins=mel_bins, widths=tuple(widths), classes_num=classes)


def load_panns(path: str | Path, architecture: str = "Cnn14_DecisionLevelMax", sample_rate: int = 32000,
               hop_size: int = 320, fmin: float = 50.0, fmax: float = 14000.0) -> nn.Module:
    """A PANNs model with the weights of ``path`` (loaded with ``weights_only=True``), in eval mode.

    Sizes are read from the checkpoint; rate, hop and mel range are not stored in it, so they are
    arguments (the published checkpoints' values by default). Key mismatches raise EventSepError.
    """
    if architecture not in ARCHITECTURES:
        raise EventSepError(f"unknown PANNs architecture {architecture!r}; known: {', '.join(ARCHITECTURES)}")
    path = Path(path)
    if not path.is_file():
        raise EventSepError(f"{path}: no such checkpoint file")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # unpicklable or not a torch file
        raise EventSepError(f"{path}: cannot be read as a weights-only torch checkpoint ({e})") from None
    state = _state_dict(obj)
    cfg = infer_config(state)
    cfg = PannsConfig(sample_rate=sample_rate, window_size=cfg.window_size, hop_size=hop_size,
                      mel_bins=cfg.mel_bins, fmin=fmin, fmax=fmax, classes_num=cfg.classes_num, widths=cfg.widths)
    model = ARCHITECTURES[architecture](cfg)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise EventSepError(f"{path}: does not match {architecture}: missing {missing[:4]}, "
                            f"unexpected {unexpected[:4]}")
    return model.eval()


class PannsFrameDetector(nn.Module):
    """Cnn14_DecisionLevelMax with its AudioSet outputs folded onto our coarse classes.
    ``(B, N) -> (B, frames, K)`` probabilities (frames at the checkpoint's hop: 10 ms at 32 kHz)."""

    def __init__(self, panns: Cnn14DecisionLevelMax, labels: list[str]):
        super().__init__()
        if len(labels) != panns.config.classes_num:
            raise EventSepError(f"{len(labels)} AudioSet labels for a model with {panns.config.classes_num} outputs")
        self.panns = panns
        groups = coarse_map(labels)
        if not groups:
            raise EventSepError("none of the AudioSet labels corresponds to an EventSep class")
        self.classes = tuple(groups)
        self.groups = [torch.tensor(v) for v in groups.values()]

    @torch.no_grad()
    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        frames = self.panns(audio)["framewise_output"]
        return torch.stack([frames[..., g].max(dim=-1).values for g in self.groups], dim=-1)
