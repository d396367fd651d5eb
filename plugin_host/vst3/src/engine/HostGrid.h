// The STFT at the host rate laid out on the model's grid: engine/streaming/grid.py, same numbers.
// A Hann window of the model window's duration and hop, zero-padded to a fast FFT size; the model's 513
// magnitudes read off that spectrum (a 4x zero-padded one when its bins do not land on host bins); the
// model's mask interpolated back onto the host's bins and extended above the model's Nyquist. Synthesis
// uses the short window of grid.py: the analysis window's last 3 hops (one hop less delay than all of it).
#pragma once

#include "Fft.h"
#include "NativeModel.h"

#include <memory>
#include <vector>

namespace eventsep
{
// Python's round(): halves go to the even neighbour.
int roundHalfEven (double v);

class HostGrid
{
public:
    HostGrid (int sampleRate, const NativeModel& model);

    // the analysis window and hop at a host rate: the model's durations in host samples (grid.py)
    static int windowAt (const NativeModel& model, int rate);
    static int hopAt (const NativeModel& model, int rate);
    // where the synthesis window starts in a frame (grid.py's synthesis_start, "short"): the last 3 hops
    static int synthesisStartAt (int windowLength, int hop);

    int sampleRate, windowLength, hop, fftSize, nbBins, modelBins, modelFftSize, synthesisStart, synthesisLength;
    bool extends;
    std::vector<double> window, invNorm;
    double magnitudeScale;

    // frame (windowLength samples) -> bins (nbBins): the spectrum of the windowed frame
    void analyse (const double* frame, Complex* bins) const;
    // masked bins -> synthesisLength windowed samples (the frame's from synthesisStart on) for overlap-add
    void synthesise (const Complex* bins, double* frame) const;
    // the model's float32 magnitudes of a frame (and its spectrum, used when the model's bins are host bins)
    void modelMagnitude (const double* frame, const Complex* bins, float* magnitude) const;
    // model mask (modelBins) and the magnitudes it masked -> host mask (nbBins)
    void hostMask (const float* mask, const float* magnitude, double* out) const;

private:
    std::unique_ptr<Fft> fft, modelFft;
    std::vector<int> mI0, mI1, hJ0, hJ1;
    std::vector<double> mLow, mFrac, hLow, hHigh, extWeight;
    std::vector<char> mValid;
    int topOctave = 0;
    mutable std::vector<double> windowed;
    mutable std::vector<Complex> modelBinsScratch;
};
} // namespace eventsep
