#include "Reference.h"

#include "Fft.h"
#include "HostGrid.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <stdexcept>

namespace eventsep
{
std::vector<float> resample (const std::vector<double>& x, int rateIn, int rateOut)
{
    const int n = (int) x.size();
    if (rateIn == rateOut)
        return std::vector<float> (x.begin(), x.end());
    const int m = std::max (1, roundHalfEven ((double) n * rateOut / rateIn));
    const int nPad = nextFastLength (n + std::max (64, n / 16));
    const int mPad = roundHalfEven ((double) nPad * rateOut / rateIn);
    Fft forward (nPad), inverse (mPad);
    std::vector<Complex> spec ((size_t) nPad / 2 + 1), outSpec ((size_t) mPad / 2 + 1, Complex());
    forward.forwardReal (x.data(), n, spec.data());
    const size_t keep = std::min (spec.size(), outSpec.size());
    std::copy (spec.begin(), spec.begin() + (long) keep, outSpec.begin());
    std::vector<double> y ((size_t) mPad);
    inverse.inverseReal (outSpec.data(), y.data(), mPad);
    std::vector<float> out ((size_t) m, 0.0f);
    const double scale = (double) mPad / nPad;
    for (int i = 0; i < m && i < mPad; ++i)
        out[(size_t) i] = (float) (y[(size_t) i] * scale);
    return out;
}

// |STFT| as engine.spectral.Stft: periodic Hann, centre padding with zeros -> (frames, bins) float32
static std::vector<float> stftMagnitude (const NativeModel& model, const float* x, int n, int& frames)
{
    const int nfft = model.nFft, hop = model.hopLength, bins = model.nbBins;
    frames = n / hop + 1;
    std::vector<double> padded ((size_t) (n + nfft), 0.0), window ((size_t) nfft), frame ((size_t) nfft);
    for (int i = 0; i < n; ++i)
        padded[(size_t) (i + nfft / 2)] = x[i];
    for (int i = 0; i < nfft; ++i)
        window[(size_t) i] = 0.5 - 0.5 * std::cos (2.0 * M_PI * i / nfft);
    Fft fft (nfft);
    std::vector<Complex> spec ((size_t) bins);
    std::vector<float> out ((size_t) frames * bins);
    for (int t = 0; t < frames; ++t)
    {
        for (int i = 0; i < nfft; ++i)
            frame[(size_t) i] = padded[(size_t) (t * hop + i)] * window[(size_t) i];
        fft.forwardReal (frame.data(), nfft, spec.data());
        for (int k = 0; k < bins; ++k)
            out[(size_t) t * bins + k] = (float) std::abs (spec[(size_t) k]);
    }
    return out;
}

std::vector<float> latentFromAudio (const NativeModel& model, const std::vector<double>& input, int sampleRate)
{
    if (sampleRate < 8000 || sampleRate > 192000)
        throw std::runtime_error ("the reference clip's sample rate must be 8000 to 192000 Hz");
    std::vector<double> clean (input);
    for (auto& v : clean)
        if (! std::isfinite (v))
            v = 0.0;
    const std::vector<float> mono = resample (clean, sampleRate, model.sampleRate);
    if ((int) mono.size() < model.nFft)
        throw std::runtime_error ("the reference clip is too short; it needs at least one STFT frame, ideally a few seconds");
    const int window = model.segmentSamples, n = (int) mono.size();
    std::vector<std::pair<int, int>> windows;          // (start, length)
    if (n <= window)
        windows.push_back ({ 0, n });
    else
    {
        int last = 0;
        for (int s = 0; s + window <= n; s += window)
            windows.push_back ({ last = s, window });
        if (n - (last + window) > window / 2)
            windows.push_back ({ n - window, window });
    }
    std::vector<std::pair<int, int>> loud;
    for (auto [s, len] : windows)
    {
        double energy = 0.0;
        for (int i = 0; i < len; ++i)
            energy += (double) mono[(size_t) (s + i)] * mono[(size_t) (s + i)];
        if (std::sqrt (energy / len) > 1e-4)           // query.SILENCE_RMS
            loud.push_back ({ s, len });
    }
    if (! loud.empty())
        windows = loud;
    std::vector<double> sum ((size_t) model.latentDim, 0.0);
    for (auto [s, len] : windows)
    {
        int frames = 0;
        auto mag = stftMagnitude (model, mono.data() + s, len, frames);
        if (frames < model.queryMinFrames)
        {
            mag.resize ((size_t) model.queryMinFrames * model.nbBins, 0.0f);
            frames = model.queryMinFrames;
        }
        const auto z = model.encode (mag, frames);
        for (size_t i = 0; i < z.size(); ++i)
            sum[i] += z[i];
    }
    std::vector<float> z ((size_t) model.latentDim);
    for (size_t i = 0; i < z.size(); ++i)
        z[i] = (float) (sum[i] / (double) windows.size());
    return z;
}
} // namespace eventsep
