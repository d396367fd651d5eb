#include "HostGrid.h"

#include <algorithm>
#include <cmath>

namespace eventsep
{
int roundHalfEven (double v)
{
    return (int) std::nearbyint (v);      // the default rounding mode: halves to the even neighbour
}

int HostGrid::synthesisStartAt (int windowLength, int hop)
{
    return std::max (0, windowLength / hop - 3) * hop;
}

int HostGrid::windowAt (const NativeModel& model, int rate)
{
    return std::max (4, roundHalfEven (model.nFft * ((double) rate / model.sampleRate)));
}

int HostGrid::hopAt (const NativeModel& model, int rate)
{
    return std::max (1, roundHalfEven (model.hopLength * ((double) rate / model.sampleRate)));
}

HostGrid::HostGrid (int rate, const NativeModel& model) : sampleRate (rate)
{
    windowLength = windowAt (model, rate);
    hop = hopAt (model, rate);
    fftSize = nextFastLength (windowLength);
    nbBins = fftSize / 2 + 1;
    modelBins = model.nbBins;
    const int L = windowLength, H = hop, N = fftSize;
    window.resize ((size_t) L);
    for (int i = 0; i < L; ++i)
        window[(size_t) i] = 0.5 - 0.5 * std::cos (2.0 * M_PI * i / L);
    magnitudeScale = (double) model.nFft / L;

    // overlap-add normalisation: analysis times synthesis window summed over the frames covering a hop
    synthesisStart = synthesisStartAt (L, H);
    synthesisLength = L - synthesisStart;
    const int S = synthesisStart, Ms = synthesisLength;
    invNorm.assign ((size_t) H, 0.0);
    for (int k = 0; k * H < Ms; ++k)
        for (int i = 0; i < H && k * H + i < Ms; ++i)
            invNorm[(size_t) i] += window[(size_t) (S + k * H + i)] * window[(size_t) (S + k * H + i)];
    for (auto& v : invNorm)
        v = 1.0 / std::max (v, 1e-12);

    const bool exact = ((long long) model.sampleRate * N) % ((long long) model.nFft * rate) == 0;
    modelFftSize = exact ? N : nextFastLength (4 * L);
    const int M = modelFftSize;
    mI0.resize ((size_t) modelBins); mI1.resize ((size_t) modelBins);
    mLow.resize ((size_t) modelBins); mFrac.resize ((size_t) modelBins); mValid.resize ((size_t) modelBins);
    for (int k = 0; k < modelBins; ++k)
    {
        const double pos = k * ((double) model.sampleRate * M) / ((double) model.nFft * rate);
        const bool valid = pos <= M / 2 - 1;
        const int i0 = (int) std::floor (pos);
        mValid[(size_t) k] = valid;
        mI0[(size_t) k] = valid ? i0 : 0;
        mI1[(size_t) k] = mI0[(size_t) k] + 1;
        mFrac[(size_t) k] = valid ? pos - i0 : 0.0;
        mLow[(size_t) k] = 1.0 - mFrac[(size_t) k];
    }

    const double nyquist = model.sampleRate / 2.0;
    extends = rate / 2.0 > nyquist;
    hJ0.resize ((size_t) nbBins); hJ1.resize ((size_t) nbBins);
    hLow.resize ((size_t) nbBins); hHigh.resize ((size_t) nbBins); extWeight.assign ((size_t) nbBins, 0.0);
    const double fade = 0.05;        // grid.EXTENSION_FADE
    for (int b = 0; b < nbBins; ++b)
    {
        double q = b * ((double) rate * model.nFft) / ((double) N * model.sampleRate);
        q = std::min (q, (double) (modelBins - 1));
        const int j0 = std::min ((int) std::floor (q), modelBins - 2);
        const double fHost = (double) b * rate / N;
        const double ext = extends ? std::clamp ((fHost - (1 - fade) * nyquist) / (fade * nyquist), 0.0, 1.0) : 0.0;
        extWeight[(size_t) b] = ext;
        hJ0[(size_t) b] = j0;
        hJ1[(size_t) b] = j0 + 1;
        hLow[(size_t) b] = (1.0 - (q - j0)) * (1.0 - ext);
        hHigh[(size_t) b] = (q - j0) * (1.0 - ext);
    }
    for (int k = 0; k < modelBins; ++k)
        if ((double) k * model.sampleRate / model.nFft >= nyquist / 2)
        {
            topOctave = k;
            break;
        }
    fft = std::make_unique<Fft> (N);
    if (M != N)
        modelFft = std::make_unique<Fft> (M);
    windowed.resize ((size_t) std::max (L, 1));
    modelBinsScratch.resize ((size_t) M / 2 + 1);
}

void HostGrid::analyse (const double* frame, Complex* bins) const
{
    for (int i = 0; i < windowLength; ++i)
        windowed[(size_t) i] = frame[i] * window[(size_t) i];
    fft->forwardReal (windowed.data(), windowLength, bins);
}

void HostGrid::synthesise (const Complex* bins, double* frame) const
{
    fft->inverseReal (bins, windowed.data(), windowLength);
    for (int i = 0; i < synthesisLength; ++i)
        frame[i] = windowed[(size_t) (synthesisStart + i)] * window[(size_t) (synthesisStart + i)];
}

void HostGrid::modelMagnitude (const double* frame, const Complex* bins, float* magnitude) const
{
    const Complex* spectrum = bins;
    if (modelFft)
    {
        for (int i = 0; i < windowLength; ++i)
            windowed[(size_t) i] = frame[i] * window[(size_t) i];
        modelFft->forwardReal (windowed.data(), windowLength, modelBinsScratch.data());
        spectrum = modelBinsScratch.data();
    }
    for (int k = 0; k < modelBins; ++k)
    {
        if (! mValid[(size_t) k])
        {
            magnitude[k] = 0.0f;
            continue;
        }
        const double a = std::abs (spectrum[mI0[(size_t) k]]) * magnitudeScale;
        const double b = std::abs (spectrum[mI1[(size_t) k]]) * magnitudeScale;
        magnitude[k] = (float) (a * mLow[(size_t) k] + b * mFrac[(size_t) k]);
    }
}

void HostGrid::hostMask (const float* mask, const float* magnitude, double* out) const
{
    for (int b = 0; b < nbBins; ++b)
        out[b] = (double) mask[hJ0[(size_t) b]] * hLow[(size_t) b] + (double) mask[hJ1[(size_t) b]] * hHigh[(size_t) b];
    if (! extends)
        return;
    double total = 0.0, weighted = 0.0, plain = 0.0;
    for (int k = topOctave; k < modelBins; ++k)
    {
        total += magnitude[k];
        weighted += (double) mask[k] * magnitude[k];
        plain += mask[k];
    }
    const double ext = total > 1e-9 ? weighted / std::max (total, 1e-12) : plain / (modelBins - topOctave);
    for (int b = 0; b < nbBins; ++b)
        out[b] += ext * extWeight[(size_t) b];
}
} // namespace eventsep
