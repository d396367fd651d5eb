"""The generative separator (SPEC §3, HOW): conditional rectified flow on the compressed magnitude
spectrogram, conditioned on the mixture and on a class latent. See ``model`` for the network, ``sampler``
for Euler sampling and waveform reconstruction, ``train`` for the training run.
"""
