"""The target-activity model: WHEN one target sounds, judged from the mixture *and* the U-Net's estimate of
that target (a target-conditioned detector; see docs/eventsep.md, "WHEN")."""
