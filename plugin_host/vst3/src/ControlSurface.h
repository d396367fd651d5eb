// What a remote control (OSC) may ask of the plugin; the processor implements it. Called on control threads
// only, never on the audio thread; each call returns false when it refuses (the processor says why).
#pragma once

#include <juce_core/juce_core.h>

#include <utility>
#include <vector>

class ControlSurface
{
public:
    virtual ~ControlSurface() = default;
    virtual void setUnit (const juce::String& id, float value) = 0;           // interp, mix, residual, bypass
    virtual bool setClassByName (int slot, const juce::String& name) = 0;
    virtual bool setReferenceFile (int slot, const juce::String& path) = 0;
    virtual bool loadPreset (const juce::String& path) = 0;
    virtual std::vector<std::pair<juce::String, juce::var>> status() const = 0;
};
