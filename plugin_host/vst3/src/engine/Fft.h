// Mixed-radix FFT in double precision for any size whose factors are small (the runtime uses sizes of the
// form 2^a 3^b 5^c, as numpy's pocketfft does fastest). Plans are made once, off the audio thread; transforms
// write into caller-owned buffers and allocate nothing.
#pragma once

#include <complex>
#include <memory>
#include <vector>

namespace eventsep
{
using Complex = std::complex<double>;

// Smallest 2^a 3^b 5^c >= n (dsp.next_fast_len): the sizes this FFT, like numpy's pocketfft, does fastest.
int nextFastLength (int n);

class Fft
{
public:
    explicit Fft (int size);

    int size() const { return n; }

    // Forward transform of n complex values (in and out must not overlap).
    void forward (const Complex* in, Complex* out) const;

    // rfft: n real samples (fewer are zero-padded: `count` of them are read) -> n/2 + 1 bins.
    void forwardReal (const double* in, int count, Complex* bins) const;

    // irfft: n/2 + 1 bins (a Hermitian spectrum; the imaginary parts of DC and Nyquist are ignored, as
    // numpy does) -> the first `count` of the n real samples.
    void inverseReal (const Complex* bins, double* out, int count) const;

private:
    void work (Complex* out, const Complex* in, int fstride, int factorIndex) const;
    void bluestein (const Complex* in, Complex* out) const;

    int n;
    std::vector<int> factors;          // pairs (radix p, remaining length m)
    std::vector<Complex> twiddles;     // exp(-2 pi i k / n)
    mutable std::vector<Complex> scratchIn, scratchOut, butterfly;
    // sizes with a prime factor above 13 (reference clips resampled to odd lengths): Bluestein's chirp-z
    // transform through a fast size m >= 2n - 1
    std::vector<Complex> chirp, chirpSpectrum;
    std::unique_ptr<Fft> inner;
    // real transforms of even sizes: one complex transform of half the size, then one twiddle pass
    std::unique_ptr<Fft> half;
    std::vector<Complex> halfTwiddles;     // exp(-2 pi i k / n), k = 0 .. n/2
    mutable std::vector<Complex> halfIn, halfOut;
    mutable std::vector<Complex> chirpA, chirpB;
};
} // namespace eventsep
