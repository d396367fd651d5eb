#include "StreamEngine.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace eventsep
{
// ------------------------------------------------------------------------------------------ SampleFifo

void SampleFifo::allocate (int channels, int cap)
{
    capacity = std::max (1, cap);
    buffer.assign ((size_t) channels, std::vector<double> ((size_t) capacity, 0.0));
    read = write = 0;
}

void SampleFifo::clear()
{
    read = write = 0;
}

void SampleFifo::makeRoom (int n)
{
    if (write + n <= capacity)
        return;
    const int held = size();                   // compact to the front (capacity covers the worst case)
    for (auto& row : buffer)
        std::memmove (row.data(), row.data() + read, (size_t) held * sizeof (double));
    read = 0;
    write = held;
}

void SampleFifo::push (const double* const* samples, int n)
{
    makeRoom (n);
    for (size_t c = 0; c < buffer.size(); ++c)
        std::memcpy (buffer[c].data() + write, samples[c], (size_t) n * sizeof (double));
    write += n;
}

void SampleFifo::pushZeros (int n)
{
    makeRoom (n);
    for (auto& row : buffer)
        std::fill (row.begin() + write, row.begin() + write + n, 0.0);
    write += n;
}

void SampleFifo::pop (double* const* out, int n)
{
    for (size_t c = 0; c < buffer.size(); ++c)
        std::memcpy (out[c], buffer[c].data() + read, (size_t) n * sizeof (double));
    read += n;
}

double Ramp::at (double start, double target, int i) const
{
    if (target > start)
        return std::min (start + step * i, target);
    return std::max (start - step * i, target);
}

// ------------------------------------------------------------------------------------------ StreamEngine

StreamEngine::StreamEngine (const NativeModel& m) : model (m), step (m), guess (m) {}

static int lookaheadOf (const NativeModel& m, int lookaheadFrames)
{
    return lookaheadFrames < 0 ? m.lookahead : std::min (lookaheadFrames, m.lookahead);
}

int StreamEngine::latencyFor (const NativeModel& m, int sampleRate, int lookaheadFrames)
{
    const int window = HostGrid::windowAt (m, sampleRate), hopSamples = HostGrid::hopAt (m, sampleRate);
    const int synthesis = window - HostGrid::synthesisStartAt (window, hopSamples);
    return (hopSamples - 1) + (synthesis - hopSamples + lookaheadOf (m, lookaheadFrames) * hopSamples);
}

void StreamEngine::prepare (int sampleRate, int channels, int maxBlock, double smoothingMs, int lookaheadFrames)
{
    rate = sampleRate;
    numChannels = std::max (1, channels);
    maxChunk = std::clamp (maxBlock, 1, 8192);
    grid = std::make_unique<HostGrid> (sampleRate, model);
    hop = grid->hop;
    windowLength = grid->windowLength;
    lookahead = lookaheadOf (model, lookaheadFrames);
    // settings.latency_of: buffering (one hop) + model (synthesis window overlap + lookahead)
    latency = latencyFor (model, sampleRate, lookahead);
    prefill = (1 + lookahead) * hop - 1;
    pieces = (grid->synthesisLength + hop - 1) / hop;
    rampStep = 1.0 / std::max (1.0, smoothingMs * sampleRate / 1000.0);
    const double runSeconds = (double) hop / sampleRate, tau = smoothingMs / 1000.0;
    zCoeff = tau > 0 ? 1.0 - std::exp (-runSeconds / tau) : 1.0;

    const int C = numChannels, bins = grid->nbBins, modelBins = model.nbBins;
    inFifo.allocate (C, maxChunk + hop);
    dryFifo.allocate (C, latency + maxChunk + 1);
    outFifo.allocate (C + 1, prefill + maxChunk + 2 * hop + 1);
    history.assign ((size_t) C, std::vector<double> ((size_t) (windowLength + lookahead * hop), 0.0));
    pendingSpectra.assign ((size_t) (lookahead + 2), std::vector<Complex> ((size_t) C * bins));
    pendingMags.assign ((size_t) (lookahead + 2), std::vector<float> ((size_t) modelBins));
    olaTail.assign ((size_t) C, std::vector<double> ((size_t) (pieces - 1) * hop, 0.0));
    frame.assign ((size_t) windowLength, 0.0);
    monoFrame.assign ((size_t) windowLength, 0.0);
    synth.assign ((size_t) grid->synthesisLength, 0.0);
    hostMask.assign ((size_t) bins, 0.0);
    monoBins.assign ((size_t) bins, Complex());
    mask.assign ((size_t) modelBins, 0.0f);
    committedMask.assign ((size_t) modelBins, 0.0f);
    idleZ.assign ((size_t) model.latentDim, 0.0f);
    zEff.assign ((size_t) model.latentDim, 0.0f);
    hopBuffer.assign ((size_t) C, std::vector<double> ((size_t) hop));
    dryBuffer.assign ((size_t) C, std::vector<double> ((size_t) maxChunk));
    wetBuffer.assign ((size_t) C + 1, std::vector<double> ((size_t) std::max (maxChunk, hop)));
    hopPtrs.clear(); dryPtrs.clear(); wetPtrs.clear();
    for (auto& b : hopBuffer) hopPtrs.push_back (b.data());
    for (auto& b : dryBuffer) dryPtrs.push_back (b.data());
    for (auto& b : wetBuffer) wetPtrs.push_back (b.data());
    emitted.assign ((size_t) C * hop, 0.0);
    resetRequested.store (true);
}

void StreamEngine::resetState()
{
    inFifo.clear();
    dryFifo.clear();
    dryFifo.pushZeros (latency);
    outFifo.clear();
    outFifo.pushZeros (prefill);
    for (auto& h : history)
        std::fill (h.begin(), h.end(), 0.0);
    for (auto& t : olaTail)
        std::fill (t.begin(), t.end(), 0.0);
    pendingHead = pendingCount = 0;
    framesSeen = framesAnalysed = 0;
    popped = 0;
    step.reset();
    fresh = true;
}

void StreamEngine::process (const float* const* in, float* const* out, int n, const Controls& controls)
{
    if (grid == nullptr)
        return;
    const float* inPtrs[64];
    float* outPtrs[64];
    for (int start = 0; start < n; start += maxChunk)
    {
        const int count = std::min (maxChunk, n - start);
        for (int c = 0; c < numChannels && c < 64; ++c)
        {
            inPtrs[c] = in[c] + start;
            outPtrs[c] = out[c] + start;
        }
        processChunk (inPtrs, outPtrs, count, controls);
    }
}

void StreamEngine::processChunk (const float* const* in, float* const* out, int n, const Controls& controls)
{
    if (resetRequested.exchange (false))
        resetState();
    if (n == 0)
        return;
    if (fresh)      // smoothed values start at their targets: what is set before a stream applies at once
    {
        hasZEff = controls.z != nullptr;
        if (hasZEff)
            std::copy (controls.z, controls.z + model.latentDim, zEff.begin());
        gate = { hasZEff ? 1.0 : 0.0, rampStep };
        mix = { controls.mix, rampStep };
        residual = { controls.residual, rampStep };
        fresh = false;
    }
    const int C = numChannels;
    constexpr double limit = 1e6;      // runtime.INPUT_LIMIT: NaN/Inf -> 0, then clipped
    for (int c = 0; c < C; ++c)
        for (int i = 0; i < n; ++i)
        {
            const double v = in[c][i];
            dryPtrs[(size_t) c][i] = std::isfinite (v) ? std::clamp (v, -limit, limit) : 0.0;
        }
    // input FIFO, hop by hop, in pieces no larger than a hop
    for (int offset = 0; offset < n;)
    {
        const int take = std::min (n - offset, hop - inFifo.size());
        const double* piece[64];
        for (int c = 0; c < C; ++c)
            piece[c] = dryPtrs[(size_t) c] + offset;
        inFifo.push (piece, take);
        offset += take;
        if (inFifo.size() >= hop)
        {
            inFifo.pop (hopPtrs.data(), hop);
            advance (controls);
        }
    }
    dryFifo.push (dryPtrs.data(), n);
    outFifo.pop (wetPtrs.data(), n);
    dryFifo.pop (dryPtrs.data(), n);

    // the first latencySamples() of a stream belong to the time before its first input sample: silent, as
    // in engine/streaming/runtime.py (the frames that overlap the start leak a little sound there)
    const int beforeStart = (int) std::max<long long> (0, std::min<long long> (n, (long long) latency - popped));
    popped += n;
    const double mixStart = mix.value, resStart = residual.value;
    const bool mixMoves = mix.value != controls.mix, resMoves = residual.value != controls.residual;
    const double* gateRow = wetPtrs[(size_t) C];
    for (int i = 0; i < n; ++i)
    {
        const double r = resMoves ? residual.at (resStart, controls.residual, i + 1) : resStart;
        const double m = mixMoves ? mix.at (mixStart, controls.mix, i + 1) : mixStart;
        const double g = gateRow[i];
        for (int c = 0; c < C; ++c)
        {
            const double target = wetPtrs[(size_t) c][i], dry = dryPtrs[(size_t) c][i];
            const double chosen = r == 0.0 ? target : target + r * (dry - 2.0 * target);
            const double o = dry + (g * m) * (chosen - dry);
            out[c][i] = (std::isfinite (o) && i >= beforeStart) ? (float) o : 0.0f;
        }
    }
    if (mixMoves)
        mix.value = mix.at (mixStart, controls.mix, n);
    if (resMoves)
        residual.value = residual.at (resStart, controls.residual, n);
}

bool StreamEngine::latent (const Controls& controls, double gateTarget)
{
    const int d = model.latentDim;
    if (controls.z != nullptr)
    {
        if (! hasZEff)
        {
            std::copy (controls.z, controls.z + d, zEff.begin());
            hasZEff = true;
        }
        else
        {
            const float k = (float) zCoeff;
            float worst = 0.0f;
            for (int i = 0; i < d; ++i)
            {
                zEff[(size_t) i] = zEff[(size_t) i] + k * (controls.z[i] - zEff[(size_t) i]);
                worst = std::max (worst, std::abs (controls.z[i] - zEff[(size_t) i]));
            }
            if (worst < 1e-6f)
                std::copy (controls.z, controls.z + d, zEff.begin());
        }
    }
    return hasZEff && (gateTarget > 0 || gate.value > 0);
}

void StreamEngine::advance (const Controls& controls)
{
    const int C = numChannels, L = windowLength, H = hop, bins = grid->nbBins, M = grid->synthesisLength;
    for (int c = 0; c < C; ++c)
    {
        auto& h = history[(size_t) c];
        std::memmove (h.data(), h.data() + H, (size_t) (h.size() - (size_t) H) * sizeof (double));
        std::memcpy (h.data() + h.size() - (size_t) H, hopPtrs[(size_t) c], (size_t) H * sizeof (double));
    }
    ++framesSeen;
    if (framesSeen - lookahead < 1)
        return;
    const int fresh_ = framesSeen - framesAnalysed, windows = 1 + lookahead;
    const double gateTarget = controls.z != nullptr ? 1.0 : 0.0;
    const bool masked = latent (controls, gateTarget);
    step.setLatent (masked ? zEff.data() : idleZ.data());
    bool haveMask = false;
    for (int j = windows - fresh_; j < windows; ++j)           // analyse the new frames, oldest first
    {
        const int slot = (pendingHead + pendingCount) % (int) pendingSpectra.size();
        auto& spectra = pendingSpectra[(size_t) slot];
        std::fill (monoFrame.begin(), monoFrame.end(), 0.0);
        std::fill (monoBins.begin(), monoBins.end(), Complex());
        for (int c = 0; c < C; ++c)
        {
            const double* f = history[(size_t) c].data() + (size_t) j * H;
            grid->analyse (f, spectra.data() + (size_t) c * bins);
            for (int i = 0; i < L; ++i)
                monoFrame[(size_t) i] += f[i];
            for (int k = 0; k < bins; ++k)
                monoBins[(size_t) k] += spectra[(size_t) c * bins + k];
        }
        for (auto& v : monoFrame)
            v /= C;
        for (auto& v : monoBins)
            v /= (double) C;
        grid->modelMagnitude (monoFrame.data(), monoBins.data(), pendingMags[(size_t) slot].data());
        ++pendingCount;
        haveMask = step.frame (pendingMags[(size_t) slot].data(), committedMask.data());
    }
    framesAnalysed = framesSeen;
    if (lookahead < model.lookahead)       // the newest frame stands in for the unheard ones; state thrown away
    {
        const int newest = (pendingHead + pendingCount - 1) % (int) pendingMags.size();
        guess.copyFrom (step);
        haveMask = false;
        for (int j = 0; j < model.lookahead - lookahead; ++j)
            haveMask = guess.frame (pendingMags[(size_t) newest].data(), mask.data());
    }
    else
        std::swap (mask, committedMask);
    bool finite = haveMask;
    if (haveMask)
    {
        float sum = 0.0f;
        for (float v : mask)
            sum += v;
        finite = std::isfinite (sum);
        if (! finite)
            step.reset();         // a non-finite state starts afresh, not with NaN
    }
    if (! finite)
        std::fill (mask.begin(), mask.end(), 0.0f);

    // emit the oldest pending frame
    auto& spectra = pendingSpectra[(size_t) pendingHead];
    const float* emitMag = pendingMags[(size_t) pendingHead].data();
    pendingHead = (pendingHead + 1) % (int) pendingSpectra.size();
    --pendingCount;
    if (masked)
    {
        grid->hostMask (mask.data(), emitMag, hostMask.data());
        for (int c = 0; c < C; ++c)
            for (int k = 0; k < bins; ++k)
                spectra[(size_t) c * bins + k] *= hostMask[(size_t) k];
    }
    const double* pushRows[65];
    for (int c = 0; c < C; ++c)
    {
        grid->synthesise (spectra.data() + (size_t) c * bins, synth.data());
        auto& tail = olaTail[(size_t) c];
        double* outHop = emitted.data() + (size_t) c * H;
        // the finished hop: what the tail held for it plus this frame's first hop
        const int tailLen = (int) tail.size();
        for (int i = 0; i < H; ++i)
            outHop[i] = ((i < tailLen ? tail[(size_t) i] : 0.0) + synth[(size_t) i]) * grid->invNorm[(size_t) i];
        // the rest of the frame moves into the tail
        for (int i = 0; i < tailLen; ++i)
        {
            const double carried = i + H < tailLen ? tail[(size_t) (i + H)] : 0.0;
            const double added = i + H < M ? synth[(size_t) (i + H)] : 0.0;
            tail[(size_t) i] = carried + added;
        }
        pushRows[c] = outHop;
    }
    // the query gate, ramped per sample
    double* gateRow = wetPtrs[(size_t) C];           // free here: wet rows are popped after all hops
    const double gateStart = gate.value;
    for (int i = 0; i < H; ++i)
        gateRow[i] = gate.value == gateTarget ? gateStart : gate.at (gateStart, gateTarget, i + 1);
    gate.value = gateRow[H - 1];
    pushRows[C] = gateRow;
    outFifo.push (pushRows, H);
}
} // namespace eventsep
