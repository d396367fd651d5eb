// The engine's FFT against a direct DFT (long double): complex transforms of mixed-radix, prime (Bluestein)
// and small sizes; real transforms and their inverse round trip, with the imaginary parts of DC and Nyquist
// ignored as numpy's irfft ignores them. Exit status 1 on any failure (tests/test_vst3_plugin.py runs it).
#include "engine/Fft.h"

#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

using eventsep::Complex;

static std::vector<Complex> dft (const std::vector<Complex>& x)
{
    const size_t n = x.size();
    std::vector<long double> cosine (n), sine (n);
    for (size_t j = 0; j < n; ++j)
    {
        cosine[j] = cosl (-2.0L * M_PI * (long double) j / (long double) n);
        sine[j] = sinl (-2.0L * M_PI * (long double) j / (long double) n);
    }
    std::vector<Complex> out (n);
    for (size_t k = 0; k < n; ++k)
    {
        long double re = 0, im = 0;
        for (size_t t = 0, j = 0; t < n; ++t, j = (j + k) % n)      // j = k t mod n
        {
            re += x[t].real() * cosine[j] - x[t].imag() * sine[j];
            im += x[t].real() * sine[j] + x[t].imag() * cosine[j];
        }
        out[k] = { (double) re, (double) im };
    }
    return out;
}

int main()
{
    std::mt19937 rng (7);
    std::normal_distribution<double> g;
    int failures = 0;
    for (int n : { 1, 2, 3, 4, 5, 6, 8, 12, 15, 97, 128, 1009, 1024, 2048, 2250, 4452, 9000 })
    {
        eventsep::Fft fft (n);
        std::vector<Complex> x ((size_t) n), y ((size_t) n);
        for (auto& v : x)
            v = { g (rng), g (rng) };
        fft.forward (x.data(), y.data());
        const auto ref = dft (x);
        double err = 0, scale = 0;
        for (int k = 0; k < n; ++k)
        {
            err = std::max (err, std::abs (y[(size_t) k] - ref[(size_t) k]));
            scale = std::max (scale, std::abs (ref[(size_t) k]));
        }
        // real input, fewer samples than the size (the rest zero-padded)
        const int count = n - n / 5;
        std::vector<double> real ((size_t) n, 0.0), back ((size_t) n);
        std::vector<Complex> asComplex ((size_t) n), bins ((size_t) n / 2 + 1);
        for (int i = 0; i < count; ++i)
            asComplex[(size_t) i] = real[(size_t) i] = g (rng);
        fft.forwardReal (real.data(), count, bins.data());
        const auto realRef = dft (asComplex);
        double realErr = 0;
        for (int k = 0; k <= n / 2; ++k)
            realErr = std::max (realErr, std::abs (bins[(size_t) k] - realRef[(size_t) k]) / std::max (scale, 1.0));
        bins[0] += Complex (0.0, 3.0);
        if (n % 2 == 0)
            bins[(size_t) n / 2] += Complex (0.0, 5.0);
        fft.inverseReal (bins.data(), back.data(), n);
        double roundTrip = 0;
        for (int i = 0; i < n; ++i)
            roundTrip = std::max (roundTrip, std::abs (back[(size_t) i] - real[(size_t) i]));
        const bool ok = err / std::max (scale, 1.0) < 1e-12 && realErr < 1e-12 && roundTrip < 1e-12;
        std::printf ("%-5s n=%-5d complex %.1e  real %.1e  round trip %.1e\n", ok ? "ok" : "FAIL", n,
                     err / std::max (scale, 1.0), realErr, roundTrip);
        failures += ok ? 0 : 1;
    }
    return failures == 0 ? 0 : 1;
}
