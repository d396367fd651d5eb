// EventSep as a VST3: the native stateful separator (engine/) behind host-automatable parameters, with
// reference clips from files (plugin state, OSC) and an OSC receiver on 127.0.0.1 speaking `eventsep serve`'s
// address space. The audio thread reads parameters and latents without locks and allocates nothing.
#pragma once

#include "ControlSurface.h"
#include "engine/NativeModel.h"
#include "engine/StreamEngine.h"

#include <juce_audio_formats/juce_audio_formats.h>
#include <juce_audio_processors/juce_audio_processors.h>

#include <atomic>
#include <memory>

class OscControl;

// A latent written by control threads and read by the audio thread (a sequence lock: the reader keeps its
// last good copy when a write is under way).
struct LatentSlot
{
    static constexpr int capacity = 256;
    std::atomic<unsigned> version { 0 };
    std::atomic<bool> valid { false };
    float z[capacity] {};

    void write (const std::vector<float>& values);
    void clear();
    // copies into `out` when the slot holds a complete latent; false when empty
    bool read (float* out, int dim, bool& wasValid) const;
};

class EventSepProcessor : public juce::AudioProcessor, public ControlSurface
{
public:
    EventSepProcessor();
    ~EventSepProcessor() override;

    void prepareToPlay (double sampleRate, int maximumExpectedSamplesPerBlock) override;
    void releaseResources() override {}
    void reset() override;
    bool isBusesLayoutSupported (const BusesLayout& layouts) const override;
    void processBlock (juce::AudioBuffer<float>&, juce::MidiBuffer&) override;

    juce::AudioProcessorEditor* createEditor() override;
    bool hasEditor() const override { return true; }
    const juce::String getName() const override { return "EventSep"; }
    bool acceptsMidi() const override { return false; }
    bool producesMidi() const override { return false; }
    double getTailLengthSeconds() const override { return 0.0; }
    int getNumPrograms() override { return 1; }
    int getCurrentProgram() override { return 0; }
    void setCurrentProgram (int) override {}
    const juce::String getProgramName (int) override { return "Default"; }
    void changeProgramName (int, const juce::String&) override {}
    void getStateInformation (juce::MemoryBlock& destData) override;
    void setStateInformation (const void* data, int sizeInBytes) override;
    juce::AudioProcessorParameter* getBypassParameter() const override;

    // Control side (any thread but the audio thread). Each returns false (and sets lastError) when refused.
    bool setReferenceFile (int slot, const juce::String& path) override;
    bool setClassByName (int slot, const juce::String& name) override;
    bool setLatent (int slot, const std::vector<float>& z);          // a raw latent of this model
    bool loadPreset (const juce::String& path) override;             // plugin_host/preset.py's format
    void setUnit (const juce::String& id, float value) override;
    juce::String lastError() const;
    // what `eventsep serve` answers to /eventsep/status, name -> value
    std::vector<std::pair<juce::String, juce::var>> status() const override;
    juce::AudioProcessorValueTreeState& parameters() { return state; }
    const eventsep::NativeModel* model() const { return nativeModel.get(); }

private:
    static juce::AudioProcessorValueTreeState::ParameterLayout createLayout (const eventsep::NativeModel* model);
    static std::unique_ptr<eventsep::NativeModel> loadModel (juce::String& error);
    void startOsc (int port);
    void announceLatency (double sampleRate);

    juce::String modelError;
    std::unique_ptr<eventsep::NativeModel> nativeModel;
    juce::AudioProcessorValueTreeState state;
    std::unique_ptr<eventsep::StreamEngine> engine;
    std::atomic<float>*interp, *mix, *residual, *bypass, *classA, *classB;
    juce::AudioParameterBool* bypassParam = nullptr;
    bool setSlot (int slot, const std::vector<float>& z, const juce::String& kind, const juce::String& path);
    juce::String describe (int slot) const;

    LatentSlot fileLatent[2];                      // a reference clip's or a raw latent, in place of the class
    juce::String filePath[2], slotKind[2];         // kind: "file", "latent" or "" (the class parameter rules)
    std::atomic<long long> blocksProcessed { 0 };
    std::vector<float> zA, zB, zTarget, fileCache[2];
    bool fileCacheValid[2] { false, false };
    int oscPort = 0;
    // "default" (the model's lookahead, 46.4 ms: engine/streaming's every_frame) or "low_latency" (none,
    // 34.8 ms: a speculative step, inline)
    std::atomic<int> lookaheadFrames { -1 };
    juce::String setting { "default" };
    bool applySetting (const juce::String& name);
    std::unique_ptr<OscControl> osc;
    mutable juce::CriticalSection controlLock;     // control threads only; never taken by the audio thread
    juce::String error;

    JUCE_DECLARE_NON_COPYABLE_WITH_LEAK_DETECTOR (EventSepProcessor)
};
