#include "NativeModel.h"

#include <juce_core/juce_core.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

namespace eventsep
{
namespace
{
std::runtime_error fail (const std::string& path, const std::string& why)
{
    return std::runtime_error (path + ": " + why);
}

int intOf (const juce::var& v, const char* key, int fallback)
{
    return v.hasProperty (key) ? (int) v[key] : fallback;
}
} // namespace

NativeModel::NativeModel (const std::string& path)
{
    juce::File file (path);
    juce::MemoryBlock bytes;
    if (! file.existsAsFile() || ! file.loadFileAsData (bytes) || bytes.getSize() < 8)
        throw fail (path, "cannot read the model file (run 'make plugin' to bundle it)");
    const auto* raw = static_cast<const unsigned char*> (bytes.getData());
    uint64_t headerSize = 0;
    for (int i = 7; i >= 0; --i)
        headerSize = (headerSize << 8) | raw[i];
    if (headerSize > bytes.getSize() - 8)
        throw fail (path, "not a safetensors file");
    const juce::String headerText = juce::String::fromUTF8 (reinterpret_cast<const char*> (raw + 8), (int) headerSize);
    const juce::var header = juce::JSON::parse (headerText);
    if (! header.isObject())
        throw fail (path, "not a safetensors file (bad header)");
    const unsigned char* data = raw + 8 + headerSize;
    const size_t dataSize = bytes.getSize() - 8 - headerSize;

    for (const auto& entry : header.getDynamicObject()->getProperties())
    {
        const juce::String name = entry.name.toString();
        if (name == "__metadata__")
            continue;
        const juce::var& t = entry.value;
        if (t["dtype"].toString() != "F32")
            throw fail (path, "tensor " + name.toStdString() + " is not float32");
        Tensor tensor;
        size_t count = 1;
        for (const auto& d : *t["shape"].getArray())
        {
            tensor.shape.push_back ((int) d);
            count *= (size_t) (int) d;
        }
        const auto* offsets = t["data_offsets"].getArray();
        const size_t begin = (size_t) (juce::int64) (*offsets)[0], end = (size_t) (juce::int64) (*offsets)[1];
        if (end > dataSize || end - begin != count * sizeof (float))
            throw fail (path, "tensor " + name.toStdString() + " lies outside the file");
        tensor.data.resize (count);
        std::memcpy (tensor.data.data(), data + begin, count * sizeof (float));
        tensors[name.toStdString()] = std::move (tensor);
    }

    const juce::var meta = juce::JSON::parse (header["__metadata__"]["eventsep"].toString());
    if (! meta.isObject() || ! meta.hasProperty ("native"))
        throw fail (path, "no EventSep metadata (re-export the bundle with 'eventsep export')");
    const juce::var native = meta["native"];
    sampleRate = intOf (meta, "sample_rate", sampleRate);
    nFft = intOf (meta["stft"], "n_fft", nFft);
    hopLength = intOf (meta["stft"], "hop_length", hopLength);
    nbBins = nFft / 2 + 1;
    latentDim = intOf (meta, "latent_dim", latentDim);
    queryMinFrames = intOf (meta, "query_min_frames", queryMinFrames);
    segmentSamples = intOf (meta, "segment_samples", segmentSamples);
    hidden = intOf (native, "hidden", hidden);
    past = intOf (native, "past", past);
    lookahead = intOf (native, "lookahead", lookahead);
    queryHidden = intOf (native, "query_hidden", queryHidden);
    eps = (float) (double) native["eps"];
    for (const auto& d : *native["dilations"].getArray())
        dilations.push_back ((int) d);
    sourceSha = meta["source"]["sha256"].toString().toStdString();
    for (const char* level : { "coarse", "fine" })
    {
        const juce::var table = meta["class_latents"][level];
        if (auto* obj = table.getDynamicObject())
        {
            std::vector<ClassLatent> found;
            for (const auto& entry : obj->getProperties())
            {
                ClassLatent c { entry.name.toString().toStdString(), level, {} };
                for (const auto& v : *entry.value.getArray())
                    c.z.push_back ((float) (double) v);
                if ((int) c.z.size() == latentDim)
                    found.push_back (std::move (c));
            }
            std::sort (found.begin(), found.end(), [] (const auto& a, const auto& b) { return a.name < b.name; });
            classes.insert (classes.end(), found.begin(), found.end());
        }
    }
    for (const char* required : { "front.w", "context.w", "film.w", "head.w", "mask.w", "query.front.w" })
        if (tensors.find (required) == tensors.end())
            throw fail (path, std::string ("missing tensor ") + required);
}

const Tensor& NativeModel::get (const std::string& name) const
{
    auto it = tensors.find (name);
    if (it == tensors.end())
        throw std::runtime_error ("native model: missing tensor " + name);
    return it->second;
}

// Eight partial sums: the compiler vectorises them without being allowed to reorder anything else.
__attribute__ ((target_clones ("avx2", "default")))
static float dot (const float* a, const float* x, int n)
{
    float acc[8] = { 0, 0, 0, 0, 0, 0, 0, 0 };
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; ++j)
            acc[j] += a[i + j] * x[i + j];
    float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (; i < n; ++i)
        s += a[i] * x[i];
    return s;
}

void gemv (const float* w, const float* b, const float* x, float* y, int rows, int cols)
{
    for (int r = 0; r < rows; ++r)
        y[r] = b[r] + dot (w + (size_t) r * cols, x, cols);
}

void gemvAccumulate (const float* w, const float* x, float* y, int rows, int cols)
{
    for (int r = 0; r < rows; ++r)
        y[r] += dot (w + (size_t) r * cols, x, cols);
}

void layerNorm (float* x, const float* w, const float* b, int n, float eps)
{
    double mean = 0.0;
    for (int i = 0; i < n; ++i)
        mean += x[i];
    mean /= n;
    double var = 0.0;
    for (int i = 0; i < n; ++i)
        var += (x[i] - mean) * (x[i] - mean);
    var /= n;
    const double inv = 1.0 / std::sqrt (var + eps);
    for (int i = 0; i < n; ++i)
        x[i] = (float) ((x[i] - mean) * inv) * w[i] + b[i];
}

std::vector<float> NativeModel::encode (const std::vector<float>& magnitude, int frames) const
{
    const int hq = queryHidden, f = nbBins;
    std::vector<float> xs ((size_t) frames * hq), feat ((size_t) f);
    const auto &fw = get ("query.front.w"), &fb = get ("query.front.b"), &nw = get ("query.norm.w"), &nb = get ("query.norm.b");
    for (int t = 0; t < frames; ++t)
    {
        for (int k = 0; k < f; ++k)
            feat[(size_t) k] = std::log1p (magnitude[(size_t) t * f + k]);
        float* row = xs.data() + (size_t) t * hq;
        gemv (fw.ptr(), fb.ptr(), feat.data(), row, hq, f);
        layerNorm (row, nw.ptr(), nb.ptr(), hq, eps);
        for (int i = 0; i < hq; ++i)
            row[i] = std::max (row[i], 0.0f);
    }
    std::vector<float> conv ((size_t) frames * hq);
    for (int layer = 0; layer < 2; ++layer)
    {
        const int d = layer + 1;          // conv0: dilation 1 (padding 1), conv1: dilation 2 (padding 2)
        const auto& w = get ("query.conv" + std::to_string (layer) + ".w");
        const auto& b = get ("query.conv" + std::to_string (layer) + ".b");
        for (int t = 0; t < frames; ++t)
        {
            float* o = conv.data() + (size_t) t * hq;
            std::copy (b.data.begin(), b.data.end(), o);
            for (int k = 0; k < 3; ++k)
            {
                const int src = t + (k - 1) * d;
                if (src >= 0 && src < frames)
                    gemvAccumulate (w.ptr() + (size_t) k * hq * hq, xs.data() + (size_t) src * hq, o, hq, hq);
            }
        }
        for (size_t i = 0; i < xs.size(); ++i)
            xs[i] += std::max (conv[i], 0.0f);
    }
    std::vector<float> stats ((size_t) 2 * hq);
    for (int i = 0; i < hq; ++i)
    {
        double mean = 0.0;
        for (int t = 0; t < frames; ++t)
            mean += xs[(size_t) t * hq + i];
        mean /= frames;
        double var = 0.0;
        for (int t = 0; t < frames; ++t)
            var += (xs[(size_t) t * hq + i] - mean) * (xs[(size_t) t * hq + i] - mean);
        stats[(size_t) i] = (float) mean;
        stats[(size_t) (hq + i)] = (float) std::sqrt (var / frames);
    }
    std::vector<float> hiddenOut ((size_t) hq), z ((size_t) latentDim);
    gemv (get ("query.out0.w").ptr(), get ("query.out0.b").ptr(), stats.data(), hiddenOut.data(), hq, 2 * hq);
    for (auto& v : hiddenOut)
        v = std::max (v, 0.0f);
    gemv (get ("query.out1.w").ptr(), get ("query.out1.b").ptr(), hiddenOut.data(), z.data(), latentDim, hq);
    double norm = 0.0;
    for (float v : z)
        norm += (double) v * v;
    const double scale = std::sqrt ((double) latentDim) / std::max (std::sqrt (norm), 1e-6);
    for (auto& v : z)
        v = (float) (v * scale);
    return z;
}

StepState::StepState (const NativeModel& model)
    : m (model), h (model.hidden), bins (model.nbBins), taps (model.past + 1 + model.lookahead)
{
    zCurrent.assign ((size_t) m.latentDim, std::nanf (""));
    films.resize ((size_t) (2 * (2 + m.dilations.size()) * h));
    context.resize ((size_t) taps * h);
    for (int d : m.dilations)
        core.emplace_back ((size_t) (2 * d + 1) * h);
    corePos.resize (core.size());
    features.resize ((size_t) bins);
    compressed.resize ((size_t) h);
    x.resize ((size_t) h);
    y.resize ((size_t) h);
    out.resize ((size_t) h);
    both.resize ((size_t) 2 * h);
    for (size_t i = 0; i < m.dilations.size(); ++i)
    {
        const std::string p = "tcn." + std::to_string (i);
        tcnW.push_back (m.get (p + ".w").ptr());
        tcnB.push_back (m.get (p + ".b").ptr());
        tcnNw.push_back (m.get (p + ".norm.w").ptr());
        tcnNb.push_back (m.get (p + ".norm.b").ptr());
    }
    frontW = m.get ("front.w").ptr(); frontB = m.get ("front.b").ptr();
    frontNw = m.get ("front.norm.w").ptr(); frontNb = m.get ("front.norm.b").ptr();
    ctxW = m.get ("context.w").ptr(); ctxB = m.get ("context.b").ptr();
    headW = m.get ("head.w").ptr(); headB = m.get ("head.b").ptr();
    headNw = m.get ("head.norm.w").ptr(); headNb = m.get ("head.norm.b").ptr();
    maskW = m.get ("mask.w").ptr(); maskB = m.get ("mask.b").ptr();
    reset();
}

void StepState::reset()
{
    std::fill (context.begin(), context.end(), 0.0f);
    contextPos = 0;
    for (auto& c : core)
        std::fill (c.begin(), c.end(), 0.0f);
    std::fill (corePos.begin(), corePos.end(), 0);
    toSkip = m.lookahead;
}

void StepState::copyFrom (const StepState& other)
{
    std::copy (other.zCurrent.begin(), other.zCurrent.end(), zCurrent.begin());
    std::copy (other.films.begin(), other.films.end(), films.begin());
    std::copy (other.context.begin(), other.context.end(), context.begin());
    contextPos = other.contextPos;
    for (size_t i = 0; i < core.size(); ++i)
        std::copy (other.core[i].begin(), other.core[i].end(), core[i].begin());
    corePos = other.corePos;         // same size: no allocation
    toSkip = other.toSkip;
}

void StepState::setLatent (const float* z)
{
    if (std::equal (z, z + m.latentDim, zCurrent.begin()))
        return;
    std::copy (z, z + m.latentDim, zCurrent.begin());
    gemv (m.get ("film.w").ptr(), m.get ("film.b").ptr(), z, films.data(), (int) films.size(), m.latentDim);
}

bool StepState::frame (const float* magnitude, float* mask)
{
    for (int k = 0; k < bins; ++k)
        features[(size_t) k] = std::log1p (magnitude[k]);
    float* f = context.data() + (size_t) contextPos * h;            // the newest compressed frame
    gemv (frontW, frontB, features.data(), f, h, bins);
    layerNorm (f, frontNw, frontNb, h, m.eps);
    for (int i = 0; i < h; ++i)
        f[i] = std::max (f[i], 0.0f);
    contextPos = (contextPos + 1) % taps;
    if (toSkip > 0)                  // priming: this frame only fills the context
    {
        --toSkip;
        return false;
    }
    std::copy (ctxB, ctxB + h, x.begin());
    for (int k = 0; k < taps; ++k)   // tap k reads the k-th oldest of the last `taps` frames
        gemvAccumulate (ctxW + (size_t) k * h * h, context.data() + (size_t) ((contextPos + k) % taps) * h, x.data(), h, h);
    const float* film = films.data();
    for (int i = 0; i < h; ++i)
        x[(size_t) i] = std::max (x[(size_t) i] * film[i] + film[h + i], 0.0f);
    std::copy (x.begin(), x.end(), y.begin());
    for (size_t layer = 0; layer < core.size(); ++layer)
    {
        const int d = m.dilations[layer], ring = 2 * d + 1;
        auto& hist = core[layer];
        int& pos = corePos[layer];
        std::copy (y.begin(), y.end(), hist.begin() + (size_t) pos * h);
        std::copy (tcnB[layer], tcnB[layer] + h, out.begin());
        for (int k = 0; k < 3; ++k)  // taps at t - 2d, t - d, t
            gemvAccumulate (tcnW[layer] + (size_t) k * h * h,
                            hist.data() + (size_t) ((pos + ring - (2 - k) * d) % ring) * h, out.data(), h, h);
        pos = (pos + 1) % ring;
        layerNorm (out.data(), tcnNw[layer], tcnNb[layer], h, m.eps);
        const float* g = films.data() + (size_t) (2 + 2 * layer) * h;
        for (int i = 0; i < h; ++i)
            y[(size_t) i] += std::max (out[(size_t) i] * g[i] + g[h + i], 0.0f);
    }
    std::copy (x.begin(), x.end(), both.begin());
    std::copy (y.begin(), y.end(), both.begin() + h);
    gemv (headW, headB, both.data(), out.data(), h, 2 * h);
    layerNorm (out.data(), headNw, headNb, h, m.eps);
    const float* g = films.data() + films.size() - (size_t) 2 * h;
    for (int i = 0; i < h; ++i)
        out[(size_t) i] = std::max (out[(size_t) i], 0.0f) * g[i] + g[h + i];
    gemv (maskW, maskB, out.data(), mask, bins, h);
    for (int k = 0; k < bins; ++k)
        mask[k] = 1.0f / (1.0f + std::exp (-mask[k]));
    return true;
}
} // namespace eventsep
