// The stateful streaming separator of engine/streaming (runtime.py + stateful.py: one model step per host hop,
// one mask from the channel mean), sample for sample, in its `default` setting (the model's own lookahead) or
// with less lookahead (`low_latency`: a speculative step lets the newest frame stand in for the unheard ones).
// prepare() allocates; process() and reset() allocate nothing, take no lock and never wait.
#pragma once

#include "HostGrid.h"
#include "NativeModel.h"

#include <atomic>
#include <memory>
#include <vector>

namespace eventsep
{
// A multichannel FIFO of fixed capacity (set in prepare).
class SampleFifo
{
public:
    void allocate (int channels, int capacity);
    void clear();
    int size() const { return write - read; }
    void push (const double* const* samples, int n);        // samples[c][0..n)
    void pushZeros (int n);
    void pop (double* const* out, int n);
    const double* peek (int channel) const { return buffer[(size_t) channel].data() + read; }
    void discard (int n) { read += n; }

private:
    void makeRoom (int n);
    std::vector<std::vector<double>> buffer;
    int read = 0, write = 0, capacity = 0;
};

struct Ramp
{
    double value = 0.0, step = 1.0;
    // the next value of a ramp that moves toward `target` by `step` per sample (i counts from 1)
    double at (double start, double target, int i) const;
};

class StreamEngine
{
public:
    struct Controls
    {
        const float* z = nullptr;      // the query latent (latentDim), nullptr: none (the input passes)
        double mix = 1.0;              // wet/dry
        double residual = 0.0;         // 0: the target, 1: everything but the target
    };

    explicit StreamEngine (const NativeModel& model);

    // Allocates everything for a stream; the next process() starts it. lookaheadFrames: -1 = the model's own.
    void prepare (int sampleRate, int channels, int maxBlock, double smoothingMs = 30.0, int lookaheadFrames = -1);
    bool prepared() const { return grid != nullptr; }
    int latencySamples() const { return latency; }
    // the latency a stream at `sampleRate` will have (settings.latency_of), without preparing one
    static int latencyFor (const NativeModel& model, int sampleRate, int lookaheadFrames = -1);
    int sampleRate() const { return rate; }
    int channels() const { return numChannels; }
    void requestReset() { resetRequested.store (true); }

    // in[c][0..n) -> out[c][0..n) (may alias in), the separated signal delayed by latencySamples().
    void process (const float* const* in, float* const* out, int n, const Controls& controls);

private:
    void processChunk (const float* const* in, float* const* out, int n, const Controls& controls);
    void resetState();
    void advance (const Controls& controls);
    bool latent (const Controls& controls, double gateTarget);
    void runModel (bool masked);

    const NativeModel& model;
    StepState step, guess;                        // guess: the speculative step's throw-away copy
    std::unique_ptr<HostGrid> grid;
    int rate = 0, numChannels = 0, maxChunk = 0, hop = 0, windowLength = 0, latency = 0, prefill = 0;
    int lookahead = 1, pieces = 1;
    double rampStep = 1.0, zCoeff = 1.0;

    SampleFifo inFifo, dryFifo, outFifo;          // outFifo: channels + the query gate
    std::vector<std::vector<double>> history;     // per channel: the last L + lookahead * H samples
    int framesSeen = 0, framesAnalysed = 0;
    long long popped = 0;                        // output samples given since the stream started
    // frames analysed, not emitted yet (a ring of lookahead + 1): spectra per channel and model magnitudes
    std::vector<std::vector<Complex>> pendingSpectra;
    std::vector<std::vector<float>> pendingMags;
    int pendingHead = 0, pendingCount = 0;
    std::vector<std::vector<double>> olaTail;
    std::vector<double> frame, monoFrame, synth, hostMask;
    std::vector<Complex> monoBins;
    std::vector<float> mask, committedMask, idleZ, zEff, zTarget;
    bool hasZEff = false;
    Ramp gate, mix, residual;
    std::vector<double*> hopPtrs, dryPtrs, wetPtrs;
    std::vector<std::vector<double>> hopBuffer, dryBuffer, wetBuffer;
    std::vector<double> emitted;
    std::atomic<bool> resetRequested { true };
    bool fresh = true;
};
} // namespace eventsep
