// A reference clip -> its query latent, as engine/streaming/query.py latent_from_audio computes it: mono,
// FFT-resampled to the model rate, Query-net latents of segment-long windows (silent ones ignored unless
// all are silent) averaged. Runs off the audio thread (it allocates).
#pragma once

#include "NativeModel.h"

#include <string>
#include <vector>

namespace eventsep
{
// mono samples at `sampleRate` -> latent (latentDim); throws std::runtime_error (one line) when unusable.
std::vector<float> latentFromAudio (const NativeModel& model, const std::vector<double>& mono, int sampleRate);

// engine/streaming/dsp.py resample(): band-limited, by zero-padding or truncating the spectrum.
std::vector<float> resample (const std::vector<double>& x, int rateIn, int rateOut);
} // namespace eventsep
