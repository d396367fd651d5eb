#include "Fft.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace eventsep
{
// a * b without the C99 Annex G NaN/Inf recovery that std::complex's operator* calls out to (__muldc3)
static inline Complex mul (Complex a, Complex b)
{
    return { a.real() * b.real() - a.imag() * b.imag(), a.real() * b.imag() + a.imag() * b.real() };
}

static int largestPrimeFactor (int n)
{
    int largest = 1;
    for (int p = 2; (long) p * p <= n; ++p)
        while (n % p == 0)
        {
            largest = p;
            n /= p;
        }
    return std::max (largest, n);
}

int nextFastLength (int n)
{
    int best = 1;
    while (best < n)
        best <<= 1;
    for (long p5 = 1; p5 < best; p5 *= 5)
        for (long p35 = p5; p35 < best; p35 *= 3)
        {
            long m = p35;
            while (m < n)
                m *= 2;
            best = (int) std::min ((long) best, m);
        }
    return best;
}

Fft::Fft (int size) : n (size)
{
    if (n < 1)
        throw std::invalid_argument ("FFT size must be positive");
    scratchIn.resize ((size_t) n);
    scratchOut.resize ((size_t) n);
    if (n % 2 == 0 && n >= 4)
    {
        half = std::make_unique<Fft> (n / 2);
        halfTwiddles.resize ((size_t) n / 2 + 1);
        for (int k = 0; k <= n / 2; ++k)
            halfTwiddles[(size_t) k] = std::polar (1.0, -2.0 * M_PI * k / n);
        halfIn.resize ((size_t) n / 2);
        halfOut.resize ((size_t) n / 2);
    }
    if (largestPrimeFactor (n) > 13)
    {
        const int m = nextFastLength (2 * n - 1);
        inner = std::make_unique<Fft> (m);
        chirp.resize ((size_t) n);
        for (int k = 0; k < n; ++k)      // exp(-i pi k^2 / n), k^2 taken mod 2n to keep the angle exact
            chirp[(size_t) k] = std::polar (1.0, -M_PI * (double) (((long long) k * k) % (2LL * n)) / n);
        std::vector<Complex> b ((size_t) m, Complex());
        b[0] = std::conj (chirp[0]);
        for (int k = 1; k < n; ++k)
            b[(size_t) k] = b[(size_t) (m - k)] = std::conj (chirp[(size_t) k]);
        chirpSpectrum.resize ((size_t) m);
        inner->forward (b.data(), chirpSpectrum.data());
        chirpA.resize ((size_t) m);
        chirpB.resize ((size_t) m);
        return;
    }
    int rest = n;
    for (int p : { 4, 2, 3, 5 })
        while (rest % p == 0 && rest > 1)
        {
            rest /= p;
            factors.push_back (p);
            factors.push_back (rest);
        }
    for (int p = 7; rest > 1; p += 2)      // any other prime factor: the generic butterfly handles it
        while (rest % p == 0)
        {
            rest /= p;
            factors.push_back (p);
            factors.push_back (rest);
        }
    if (factors.empty())
    {
        factors.push_back (1);
        factors.push_back (1);
    }
    twiddles.resize ((size_t) n);
    for (int k = 0; k < n; ++k)
        twiddles[(size_t) k] = std::polar (1.0, -2.0 * M_PI * k / n);
    int largest = 1;
    for (size_t i = 0; i < factors.size(); i += 2)
        largest = std::max (largest, factors[i]);
    butterfly.resize ((size_t) largest);
}

void Fft::bluestein (const Complex* in, Complex* out) const
{
    const int m = inner->size();
    for (int k = 0; k < m; ++k)
        chirpA[(size_t) k] = k < n ? mul (in[k], chirp[(size_t) k]) : Complex();
    inner->forward (chirpA.data(), chirpB.data());
    for (int k = 0; k < m; ++k)           // convolution with conj(chirp), as an inverse transform by conj
        chirpB[(size_t) k] = std::conj (mul (chirpB[(size_t) k], chirpSpectrum[(size_t) k]));
    inner->forward (chirpB.data(), chirpA.data());
    const double scale = 1.0 / m;
    for (int k = 0; k < n; ++k)
        out[k] = mul (std::conj (chirpA[(size_t) k]) * scale, chirp[(size_t) k]);
}

// Decimation in time: out[k * m .. ] holds the m-point transforms of the p decimated sequences, then one
// generic radix-p butterfly per output group combines them.
void Fft::work (Complex* out, const Complex* in, int fstride, int factorIndex) const
{
    const int p = factors[(size_t) factorIndex], m = factors[(size_t) factorIndex + 1];
    if (m == 1)
        for (int k = 0; k < p; ++k)
            out[k] = in[k * fstride];
    else
        for (int k = 0; k < p; ++k)
            work (out + k * m, in + k * fstride, fstride * p, factorIndex + 2);
    if (p == 1)
        return;
    const Complex* tw = twiddles.data();
    if (p == 2)
    {
        for (int u = 0; u < m; ++u)
        {
            const Complex t = mul (out[u + m], tw[u * fstride]);
            out[u + m] = out[u] - t;
            out[u] += t;
        }
        return;
    }
    if (p == 4)
    {
        for (int u = 0; u < m; ++u)
        {
            const Complex f0 = out[u], s0 = mul (out[u + m], tw[u * fstride]);
            const Complex s1 = mul (out[u + 2 * m], tw[2 * u * fstride]), s2 = mul (out[u + 3 * m], tw[3 * u * fstride]);
            const Complex s5 = f0 - s1, s6 = f0 + s1, s3 = s0 + s2, s4 = s0 - s2;
            out[u] = s6 + s3;
            out[u + 2 * m] = s6 - s3;
            out[u + m] = { s5.real() + s4.imag(), s5.imag() - s4.real() };          // s5 - i s4
            out[u + 3 * m] = { s5.real() - s4.imag(), s5.imag() + s4.real() };      // s5 + i s4
        }
        return;
    }
    if (p == 3)
    {
        const double sn = std::sin (2.0 * M_PI / 3.0);
        for (int u = 0; u < m; ++u)
        {
            const Complex a = out[u], b = mul (out[u + m], tw[u * fstride]), c = mul (out[u + 2 * m], tw[2 * u * fstride]);
            const Complex t1 = b + c, t2 = a - 0.5 * t1, d = b - c;
            const Complex rot { sn * d.imag(), -sn * d.real() };                     // -i sn (b - c)
            out[u] = a + t1;
            out[u + m] = t2 + rot;
            out[u + 2 * m] = t2 - rot;
        }
        return;
    }
    if (p == 5)
    {
        const double c1 = std::cos (2.0 * M_PI / 5.0), c2 = std::cos (4.0 * M_PI / 5.0);
        const double s1 = std::sin (2.0 * M_PI / 5.0), s2 = std::sin (4.0 * M_PI / 5.0);
        for (int u = 0; u < m; ++u)
        {
            const Complex a = out[u], b = mul (out[u + m], tw[u * fstride]);
            const Complex c = mul (out[u + 2 * m], tw[2 * u * fstride]), d = mul (out[u + 3 * m], tw[3 * u * fstride]);
            const Complex e = mul (out[u + 4 * m], tw[4 * u * fstride]);
            const Complex be = b + e, cd = c + d, bmE = b - e, cmD = c - d;
            const Complex r1 = a + c1 * be + c2 * cd, r2 = a + c2 * be + c1 * cd;
            const Complex i1 = s1 * bmE + s2 * cmD, i2 = s2 * bmE - s1 * cmD;         // X = r -+ i * (this)
            out[u] = a + be + cd;
            out[u + m] = { r1.real() + i1.imag(), r1.imag() - i1.real() };
            out[u + 4 * m] = { r1.real() - i1.imag(), r1.imag() + i1.real() };
            out[u + 2 * m] = { r2.real() + i2.imag(), r2.imag() - i2.real() };
            out[u + 3 * m] = { r2.real() - i2.imag(), r2.imag() + i2.real() };
        }
        return;
    }
    Complex* s = butterfly.data();
    for (int u = 0; u < m; ++u)
    {
        for (int q = 0; q < p; ++q)
            s[q] = out[u + q * m];
        for (int q1 = 0; q1 < p; ++q1)
        {
            const int k = u + q1 * m;
            Complex acc = s[0];
            int idx = 0;
            const int step = fstride * k;        // < n: fstride * p * m == n at this level
            for (int q = 1; q < p; ++q)
            {
                idx += step;
                if (idx >= n)
                    idx -= n;
                acc += mul (s[q], tw[idx]);
            }
            out[k] = acc;
        }
    }
}

void Fft::forward (const Complex* in, Complex* out) const
{
    if (inner)
        bluestein (in, out);
    else
        work (out, in, 1, 0);
}

void Fft::forwardReal (const double* in, int count, Complex* bins) const
{
    if (half)
    {
        const int h = n / 2;
        for (int j = 0; j < h; ++j)
            halfIn[(size_t) j] = { 2 * j < count ? in[2 * j] : 0.0, 2 * j + 1 < count ? in[2 * j + 1] : 0.0 };
        half->forward (halfIn.data(), halfOut.data());
        for (int k = 0; k <= h; ++k)
        {
            const Complex zk = halfOut[(size_t) (k % h)], zc = std::conj (halfOut[(size_t) ((h - k) % h)]);
            const Complex even = 0.5 * (zk + zc), diff = 0.5 * (zk - zc);
            const Complex odd { diff.imag(), -diff.real() };                 // diff / i
            bins[k] = even + mul (halfTwiddles[(size_t) k], odd);
        }
        return;
    }
    Complex* x = scratchIn.data();
    for (int i = 0; i < n; ++i)
        x[i] = Complex (i < count ? in[i] : 0.0, 0.0);
    forward (x, scratchOut.data());
    for (int k = 0; k <= n / 2; ++k)
        bins[k] = scratchOut[(size_t) k];
}

void Fft::inverseReal (const Complex* bins, double* out, int count) const
{
    if (half)
    {
        const int h = n / 2;
        // the imaginary parts of DC and Nyquist do not belong to a real signal's spectrum: ignored
        auto bin = [&] (int k) { return (k == 0 || k == h) ? Complex (bins[k].real(), 0.0) : bins[k]; };
        for (int k = 0; k < h; ++k)
        {
            const Complex xk = bin (k), xc = std::conj (bin (h - k));
            const Complex even = 0.5 * (xk + xc);
            const Complex odd = mul (0.5 * (xk - xc), std::conj (halfTwiddles[(size_t) k]));
            halfIn[(size_t) k] = std::conj (even + Complex (-odd.imag(), odd.real()));   // conj(E + i O)
        }
        half->forward (halfIn.data(), halfOut.data());
        const double scale = 1.0 / h;
        for (int i = 0; i < count; ++i)
        {
            const Complex z = std::conj (halfOut[(size_t) (i / 2)]);
            out[i] = (i % 2 == 0 ? z.real() : z.imag()) * scale;
        }
        return;
    }
    // ifft(X) = conj(fft(conj(X))) / n over the full Hermitian spectrum; the real part is the answer
    Complex* x = scratchIn.data();
    const int half = n / 2;
    for (int k = 0; k <= half; ++k)
        x[k] = std::conj (bins[k]);
    for (int k = half + 1; k < n; ++k)
        x[k] = bins[n - k];               // conj(conj(X[n-k]))
    forward (x, scratchOut.data());
    const double scale = 1.0 / n;
    for (int i = 0; i < count; ++i)
        out[i] = scratchOut[(size_t) i].real() * scale;
}
} // namespace eventsep
