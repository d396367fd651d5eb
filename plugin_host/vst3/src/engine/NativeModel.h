// The separator's step and the light Query-net, frame by frame, from a bundle's native.safetensors (written by
// `eventsep export`; layout in export/native_weights.py, whose NativeStep is the same arithmetic in numpy).
// Loading allocates; StepState::frame and the film table allocate nothing.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace eventsep
{
struct Tensor
{
    std::vector<int> shape;
    std::vector<float> data;
    const float* ptr() const { return data.data(); }
};

struct ClassLatent
{
    std::string name;
    std::string level;         // "coarse" or "fine"
    std::vector<float> z;
};

class NativeModel
{
public:
    // Reads the file; throws std::runtime_error with a one-line message when it cannot be used.
    explicit NativeModel (const std::string& path);

    int sampleRate = 22050, nFft = 1024, hopLength = 256, nbBins = 513, latentDim = 32;
    int hidden = 256, past = 2, lookahead = 1, queryHidden = 256, queryMinFrames = 1, segmentSamples = 66150;
    float eps = 1e-5f;
    std::vector<int> dilations;
    std::vector<ClassLatent> classes;      // coarse classes first, then fine labels, each sorted by name
    std::string sourceSha;

    const Tensor& get (const std::string& name) const;

    // The Query-net: (frames, nbBins) magnitudes of a batch of windows -> latent (latentDim) of each window.
    std::vector<float> encode (const std::vector<float>& magnitude, int frames) const;

private:
    std::map<std::string, Tensor> tensors;
};

// y = W x + b with W (rows, cols) row-major.
void gemv (const float* w, const float* b, const float* x, float* y, int rows, int cols);
// y += W x
void gemvAccumulate (const float* w, const float* x, float* y, int rows, int cols);
void layerNorm (float* x, const float* w, const float* b, int n, float eps);

// The carried state of one stream of the separator, and its step.
class StepState
{
public:
    explicit StepState (const NativeModel& model);

    void reset();                                  // a fresh stream (zeros; the first `lookahead` frames prime)
    void copyFrom (const StepState& other);        // the same model's state (no allocation)
    void setLatent (const float* z);               // recomputes the FiLM table when z changed
    // One frame: (nbBins) magnitude -> writes the (nbBins) mask of the frame `lookahead` behind it and
    // returns true, or returns false while the stream is priming.
    bool frame (const float* magnitude, float* mask);

private:
    const NativeModel& m;
    int h, bins, taps;
    std::vector<float> zCurrent, films;
    std::vector<float> context;                    // ring of `taps` compressed frames
    int contextPos = 0;
    std::vector<std::vector<float>> core;          // per layer: ring of 2 d + 1 inputs
    std::vector<int> corePos;
    int toSkip = 0;
    std::vector<float> features, compressed, x, y, out, both;
    std::vector<const float*> tcnW, tcnB, tcnNw, tcnNb;
    const float *frontW, *frontB, *frontNw, *frontNb, *ctxW, *ctxB, *headW, *headB, *headNw, *headNb, *maskW, *maskB;
};
} // namespace eventsep
