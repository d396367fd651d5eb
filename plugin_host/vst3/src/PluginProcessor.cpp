#include "PluginProcessor.h"

#include "OscControl.h"
#include "engine/Reference.h"

#include <cmath>
#include <cstring>

// ------------------------------------------------------------------------------------------ LatentSlot

void LatentSlot::write (const std::vector<float>& values)
{
    version.fetch_add (1);                    // odd: a write is under way
    const size_t n = std::min (values.size(), (size_t) capacity);
    std::copy (values.begin(), values.begin() + (long) n, z);
    valid.store (true);
    version.fetch_add (1);
}

void LatentSlot::clear()
{
    version.fetch_add (1);
    valid.store (false);
    version.fetch_add (1);
}

bool LatentSlot::read (float* out, int dim, bool& wasValid) const
{
    const unsigned before = version.load();
    if (before & 1u)
        return false;                         // keep the previous copy for this block
    const bool isValid = valid.load();
    if (isValid)
        std::copy (z, z + dim, out);
    if (version.load() != before)
        return false;
    wasValid = isValid;
    return true;
}

// ------------------------------------------------------------------------------------------ helpers

namespace
{
juce::String spelling (const juce::String& name)
{
    juce::String out;
    for (auto ch : name.toLowerCase())
        if (juce::CharacterFunctions::isLetterOrDigit (ch))
            out += juce::String::charToString (ch);
    return out;
}

// engine/streaming/dsp.py slerp, in double
void slerp (const std::vector<float>& a, const std::vector<float>& b, double alpha, std::vector<float>& out)
{
    const size_t n = a.size();
    if (alpha == 0.0 || alpha == 1.0)
    {
        out = alpha == 0.0 ? a : b;
        return;
    }
    double n1 = 0, n2 = 0, d = 0;
    for (size_t i = 0; i < n; ++i)
    {
        n1 += (double) a[i] * a[i];
        n2 += (double) b[i] * b[i];
        d += (double) a[i] * b[i];
    }
    const double cosine = std::clamp (d / std::max (std::sqrt (n1) * std::sqrt (n2), 1e-12), -1.0, 1.0);
    const double theta = std::acos (cosine), s = std::sin (theta);
    for (size_t i = 0; i < n; ++i)
        out[i] = std::abs (s) <= 1e-6 ? (float) ((1 - alpha) * a[i] + alpha * b[i])
                                      : (float) (std::sin ((1 - alpha) * theta) / s * a[i] + std::sin (alpha * theta) / s * b[i]);
}

const char* slotParam (int slot)
{
    return slot == 0 ? "class_a" : "class_b";
}
} // namespace

// ------------------------------------------------------------------------------------------ processor

std::unique_ptr<eventsep::NativeModel> EventSepProcessor::loadModel (juce::String& error)
{
    juce::File file;
    const auto overridePath = juce::SystemStats::getEnvironmentVariable ("EVENTSEP_NATIVE_MODEL", {});
    if (overridePath.isNotEmpty())
        file = juce::File (overridePath);
    else    // <bundle>.vst3/Contents/x86_64-linux/EventSep.so -> <bundle>.vst3/Contents/Resources/model/
        file = juce::File::getSpecialLocation (juce::File::currentExecutableFile)
                   .getParentDirectory().getParentDirectory().getChildFile ("Resources/model/native.safetensors");
    try
    {
        return std::make_unique<eventsep::NativeModel> (file.getFullPathName().toStdString());
    }
    catch (const std::exception& e)
    {
        error = e.what();
        return nullptr;
    }
}

juce::AudioProcessorValueTreeState::ParameterLayout EventSepProcessor::createLayout (const eventsep::NativeModel* model)
{
    using namespace juce;
    AudioProcessorValueTreeState::ParameterLayout layout;
    auto unit = [&] (const char* id, float initial) {
        layout.add (std::make_unique<AudioParameterFloat> (ParameterID { id, 1 }, id, NormalisableRange<float> (0.0f, 1.0f), initial));
    };
    unit ("interp", 0.0f);
    unit ("mix", 1.0f);
    unit ("residual", 0.0f);
    layout.add (std::make_unique<AudioParameterBool> (ParameterID { "bypass", 1 }, "bypass", false));
    StringArray choices { "none" };
    if (model != nullptr)
        for (const auto& c : model->classes)
            choices.add (c.name);
    for (const char* id : { "class_a", "class_b" })
        layout.add (std::make_unique<AudioParameterChoice> (ParameterID { id, 1 }, id, choices, 0));
    return layout;
}

EventSepProcessor::EventSepProcessor()
    : AudioProcessor (BusesProperties().withInput ("Input", juce::AudioChannelSet::stereo(), true)
                                       .withOutput ("Output", juce::AudioChannelSet::stereo(), true)),
      nativeModel (loadModel (modelError)),
      state (*this, nullptr, "EventSep", createLayout (nativeModel.get()))
{
    interp = state.getRawParameterValue ("interp");
    mix = state.getRawParameterValue ("mix");
    residual = state.getRawParameterValue ("residual");
    bypass = state.getRawParameterValue ("bypass");
    classA = state.getRawParameterValue ("class_a");
    classB = state.getRawParameterValue ("class_b");
    bypassParam = dynamic_cast<juce::AudioParameterBool*> (state.getParameter ("bypass"));
    if (nativeModel != nullptr)
    {
        engine = std::make_unique<eventsep::StreamEngine> (*nativeModel);
        const size_t d = (size_t) nativeModel->latentDim;
        zA.resize (d); zB.resize (d); zTarget.resize (d);
        fileCache[0].resize (d); fileCache[1].resize (d);
    }
    error = modelError;
    applySetting (juce::SystemStats::getEnvironmentVariable ("EVENTSEP_SETTING", "default"));
    startOsc (juce::SystemStats::getEnvironmentVariable ("EVENTSEP_OSC_PORT", "9000").getIntValue());
}

EventSepProcessor::~EventSepProcessor()
{
    osc.reset();
}

void EventSepProcessor::startOsc (int port)
{
    const juce::ScopedLock sl (controlLock);
    if (osc != nullptr && osc->port() == port && osc->listening())
        return;
    osc.reset();
    oscPort = port;
    if (port > 0)
        osc = std::make_unique<OscControl> (*this, port);
}


juce::AudioProcessorParameter* EventSepProcessor::getBypassParameter() const
{
    return bypassParam;
}

bool EventSepProcessor::isBusesLayoutSupported (const BusesLayout& layouts) const
{
    // A VST3 host reads the latency after setupProcessing() and setBusArrangements(), before it activates
    // the plugin (when prepareToPlay runs). setupProcessing() has already set the new sample rate, and
    // setBusArrangements() asks this question: so the latency for that rate is set here, and a host
    // (pedalboard among them) never sees the previous rate's latency.
    const_cast<EventSepProcessor*> (this)->announceLatency (getSampleRate());
    const auto in = layouts.getMainInputChannelSet(), out = layouts.getMainOutputChannelSet();
    return in == out && (out == juce::AudioChannelSet::mono() || out == juce::AudioChannelSet::stereo());
}

void EventSepProcessor::announceLatency (double sampleRate)
{
    const int rate = (int) std::lround (sampleRate);
    if (nativeModel != nullptr && rate >= 8000 && rate <= 192000)
        setLatencySamples (eventsep::StreamEngine::latencyFor (*nativeModel, rate, lookaheadFrames.load()));
}

void EventSepProcessor::prepareToPlay (double sampleRate, int maximumExpectedSamplesPerBlock)
{
    const int rate = (int) std::lround (sampleRate);
    if (engine == nullptr || rate < 8000 || rate > 192000)
    {
        setLatencySamples (0);
        return;
    }
    engine->prepare (rate, getTotalNumOutputChannels(), maximumExpectedSamplesPerBlock, 30.0, lookaheadFrames.load());
    setLatencySamples (engine->latencySamples());
}

void EventSepProcessor::reset()
{
    if (engine != nullptr)
        engine->requestReset();
}

void EventSepProcessor::processBlock (juce::AudioBuffer<float>& buffer, juce::MidiBuffer&)
{
    juce::ScopedNoDenormals noDenormals;
    ++blocksProcessed;
    if (engine == nullptr || ! engine->prepared())
        return;                                  // no model (or an unsupported rate): the input passes
    const auto& classes = nativeModel->classes;
    const int dim = nativeModel->latentDim;
    bool has[2] = { false, false };
    std::vector<float>* z[2] = { &zA, &zB };
    std::atomic<float>* classParam[2] = { classA, classB };
    for (int slot = 0; slot < 2; ++slot)
    {
        bool fileValid = fileCacheValid[slot];
        if (fileLatent[slot].read (fileCache[slot].data(), dim, fileValid))
            fileCacheValid[slot] = fileValid;
        if (fileCacheValid[slot])
        {
            std::copy (fileCache[slot].begin(), fileCache[slot].end(), z[slot]->begin());
            has[slot] = true;
        }
        else
        {
            const int choice = (int) std::lround (classParam[slot]->load());
            if (choice > 0 && choice <= (int) classes.size())
            {
                std::copy (classes[(size_t) choice - 1].z.begin(), classes[(size_t) choice - 1].z.end(), z[slot]->begin());
                has[slot] = true;
            }
        }
    }
    eventsep::StreamEngine::Controls controls;
    if (bypass->load() < 0.5f && (has[0] || has[1]))
    {
        if (has[0] && has[1])
            slerp (zA, zB, (double) interp->load(), zTarget);
        else
            zTarget = has[0] ? zA : zB;         // same size: no allocation
        controls.z = zTarget.data();
    }
    controls.mix = (double) mix->load();
    controls.residual = (double) residual->load();
    const int channels = std::min (buffer.getNumChannels(), engine->channels());
    if (channels < engine->channels())
        return;
    engine->process (buffer.getArrayOfReadPointers(), buffer.getArrayOfWritePointers(), buffer.getNumSamples(), controls);
}

bool EventSepProcessor::setReferenceFile (int slot, const juce::String& path)
{
    const juce::ScopedLock sl (controlLock);
    if (path.isEmpty())
        return setSlot (slot, {}, {}, {});
    if (nativeModel == nullptr)
    {
        error = "no model: " + modelError;
        return false;
    }
    juce::AudioFormatManager formats;
    formats.registerBasicFormats();
    std::unique_ptr<juce::AudioFormatReader> reader (formats.createReaderFor (juce::File (path)));
    if (reader == nullptr || reader->lengthInSamples <= 0 || reader->lengthInSamples > (juce::int64) 192000 * 600)
    {
        error = "cannot read the reference clip " + path;
        return false;
    }
    const int n = (int) reader->lengthInSamples, channels = (int) reader->numChannels;
    juce::AudioBuffer<float> audio (channels, n);
    reader->read (&audio, 0, n, 0, true, true);
    std::vector<double> mono ((size_t) n, 0.0);
    for (int c = 0; c < channels; ++c)
        for (int i = 0; i < n; ++i)
        {
            const double v = audio.getSample (c, i);
            mono[(size_t) i] += std::isfinite (v) ? v : 0.0;
        }
    for (auto& v : mono)
        v /= channels;
    try
    {
        return setSlot (slot, eventsep::latentFromAudio (*nativeModel, mono, (int) std::lround (reader->sampleRate)),
                        "file", path);
    }
    catch (const std::exception& e)
    {
        error = juce::String (path) + ": " + e.what();
        return false;
    }
}

bool EventSepProcessor::setSlot (int slot, const std::vector<float>& z, const juce::String& kind, const juce::String& path)
{
    const juce::ScopedLock sl (controlLock);
    if (kind.isEmpty())
        fileLatent[slot].clear();
    else
        fileLatent[slot].write (z);
    slotKind[slot] = kind;
    filePath[slot] = path;
    return true;
}

bool EventSepProcessor::setLatent (int slot, const std::vector<float>& z)
{
    if (nativeModel == nullptr || (int) z.size() != nativeModel->latentDim
        || ! std::all_of (z.begin(), z.end(), [] (float v) { return std::isfinite (v); }))
    {
        const juce::ScopedLock sl (controlLock);
        error = "a latent must have " + juce::String (nativeModel != nullptr ? nativeModel->latentDim : 0) + " finite values";
        return false;
    }
    return setSlot (slot, z, "latent", {});
}

juce::String EventSepProcessor::describe (int slot) const
{
    const juce::ScopedLock sl (controlLock);
    if (slotKind[slot] == "file")
        return "file " + filePath[slot];
    if (slotKind[slot] == "latent")
        return "latent";
    auto* param = dynamic_cast<juce::AudioParameterChoice*> (state.getParameter (slotParam (slot)));
    return param->getIndex() > 0 ? "class " + param->getCurrentChoiceName() : juce::String();
}

std::vector<std::pair<juce::String, juce::var>> EventSepProcessor::status() const
{
    return { { "interp", (double) interp->load() }, { "mix", (double) mix->load() },
             { "bypass", bypass->load() >= 0.5f ? 1 : 0 }, { "residual", (double) residual->load() },
             { "query_a", describe (0) }, { "query_b", describe (1) },
             { "sample_rate", (int) std::lround (getSampleRate()) }, { "channels", getTotalNumOutputChannels() },
             { "latency_samples", getLatencySamples() },
             { "model", juce::String (nativeModel != nullptr ? nativeModel->sourceSha : std::string()).substring (0, 12) },
             { "blocks", (int) blocksProcessed.load() }, { "pending", 0 } };
}

bool EventSepProcessor::loadPreset (const juce::String& path)
{
    auto refuse = [this, &path] (const juce::String& why) {
        const juce::ScopedLock sl (controlLock);
        error = path + ": " + why;
        return false;
    };
    const juce::File file (path);
    if (! file.existsAsFile())
        return refuse ("no such preset file");
    if (file.getSize() > (1 << 20))
        return refuse ("too large to be a preset");
    const juce::var data = juce::JSON::parse (file.loadFileAsString());
    if (! data.isObject() || data["format"].toString() != "eventsep-preset")
        return refuse ("not an EventSep preset");
    if ((int) data["version"] != 1)
        return refuse ("preset version " + data["version"].toString() + "; this plugin reads version 1");
    // everything is checked before anything changes: a bad preset leaves the plugin as it was
    std::vector<std::pair<juce::String, float>> units;
    if (auto* params = data["parameters"].getDynamicObject())
        for (const auto& entry : params->getProperties())
        {
            const juce::String name = entry.name.toString();
            const auto& v = entry.value;
            if (name == "bypass" && (v.isBool() || ((v.isInt() || v.isDouble()) && ((double) v == 0.0 || (double) v == 1.0))))
                units.push_back ({ name, (bool) v ? 1.0f : 0.0f });
            else if ((name == "interp" || name == "mix" || name == "residual") && (v.isInt() || v.isDouble())
                     && (double) v >= 0.0 && (double) v <= 1.0)
                units.push_back ({ name, (float) (double) v });
            else
                return refuse ("bad parameter " + name);
        }
    const juce::String sha = data["model"]["sha256"].toString();
    const bool sameModel = nativeModel != nullptr && sha.isNotEmpty() && sha.toStdString() == nativeModel->sourceSha;
    struct Plan { juce::String kind, value; std::vector<float> z; };
    Plan plans[2];
    for (int slot = 0; slot < 2; ++slot)
    {
        const juce::var q = data["queries"][slot == 0 ? "a" : "b"];
        if (! q.isObject())
            continue;
        Plan& plan = plans[slot];
        plan.kind = q["kind"].toString();
        plan.value = plan.kind == "file" ? q["path"].toString() : q["name"].toString();
        if (auto* zs = q["latent"].getArray())
            for (const auto& v : *zs)
                plan.z.push_back ((float) (double) v);
        const bool latentOk = nativeModel != nullptr && (int) plan.z.size() == nativeModel->latentDim;
        if (plan.kind == "latent" && ! (sameModel && latentOk))
            return refuse ("query " + juce::String (slot == 0 ? "a" : "b") + " is a raw latent of another model");
        if (plan.kind != "latent" && plan.kind != "class" && plan.kind != "file")
            return refuse ("query kind must be file, class or latent");
        if ((plan.kind == "class" || plan.kind == "file") && plan.value.isEmpty())
            return refuse ("query " + plan.kind + " without a name or path");
        if (! (sameModel && latentOk))
            plan.z.clear();                     // another model: recomputed from the class name or the file
    }
    for (const auto& [name, value] : units)
        setUnit (name, value);
    bool ok = true;
    for (int slot = 0; slot < 2; ++slot)
    {
        const Plan& plan = plans[slot];
        if (plan.kind.isEmpty())
        {
            setSlot (slot, {}, {}, {});
            setUnit (slotParam (slot), 0.0f);
        }
        else if (plan.kind == "class")
            ok = setClassByName (slot, plan.value) && ok;
        else if (plan.kind == "file" && ! plan.z.empty())
            ok = setSlot (slot, plan.z, "file", plan.value) && ok;     // this model's latent of that file
        else if (plan.kind == "file")
            ok = setReferenceFile (slot, plan.value) && ok;
        else
            ok = setLatent (slot, plan.z) && ok;
    }
    return ok;
}

bool EventSepProcessor::setClassByName (int slot, const juce::String& name)
{
    auto* param = dynamic_cast<juce::AudioParameterChoice*> (state.getParameter (slotParam (slot)));
    const juce::String wanted = spelling (name);
    int index = -1;
    for (int i = 0; i < param->choices.size(); ++i)     // coarse classes come first, as find_class looks
        if (spelling (param->choices[i]) == wanted)
        {
            index = i;
            break;
        }
    if (index < 0)
    {
        const juce::ScopedLock sl (controlLock);
        error = "unknown class " + name;
        return false;
    }
    setSlot (slot, {}, {}, {});                // a class replaces a reference clip or latent in that slot
    param->setValueNotifyingHost (param->convertTo0to1 ((float) index));
    return true;
}

void EventSepProcessor::setUnit (const juce::String& id, float value)
{
    if (auto* param = state.getParameter (id))
        param->setValueNotifyingHost (param->convertTo0to1 (value));
}

juce::String EventSepProcessor::lastError() const
{
    const juce::ScopedLock sl (controlLock);
    return error;
}

void EventSepProcessor::getStateInformation (juce::MemoryBlock& destData)
{
    auto tree = state.copyState();
    {
        const juce::ScopedLock sl (controlLock);
        tree.setProperty ("query_a_path", filePath[0], nullptr);
        tree.setProperty ("query_b_path", filePath[1], nullptr);
        for (int slot = 0; slot < 2; ++slot)
            if (slotKind[slot] == "latent")
            {
                std::vector<float> z ((size_t) LatentSlot::capacity);
                bool valid = false;
                if (fileLatent[slot].read (z.data(), nativeModel->latentDim, valid) && valid)    // the exact bits
                    tree.setProperty (slot == 0 ? "query_a_latent" : "query_b_latent",
                                      juce::MemoryBlock (z.data(), (size_t) nativeModel->latentDim * sizeof (float))
                                          .toBase64Encoding(), nullptr);
            }
        tree.setProperty ("osc_port", oscPort, nullptr);
        tree.setProperty ("setting", setting, nullptr);
        tree.setProperty ("error", error, nullptr);
        tree.setProperty ("latency_samples", getLatencySamples(), nullptr);
        tree.setProperty ("osc_listening", osc != nullptr && osc->listening(), nullptr);
    }
    if (auto xml = tree.createXml())
        copyXmlToBinary (*xml, destData);
}

void EventSepProcessor::setStateInformation (const void* data, int sizeInBytes)
{
    auto xml = getXmlFromBinary (data, sizeInBytes);
    if (xml == nullptr || ! xml->hasTagName (state.state.getType()))
        return;
    auto tree = juce::ValueTree::fromXml (*xml);
    state.replaceState (tree);
    for (int slot = 0; slot < 2; ++slot)
    {
        const juce::String path = tree.getProperty (slot == 0 ? "query_a_path" : "query_b_path").toString();
        const juce::String latent = tree.getProperty (slot == 0 ? "query_a_latent" : "query_b_latent").toString();
        if (latent.isNotEmpty())
        {
            juce::MemoryBlock bytes;
            bytes.fromBase64Encoding (latent);
            std::vector<float> z (bytes.getSize() / sizeof (float));
            std::memcpy (z.data(), bytes.getData(), z.size() * sizeof (float));
            setLatent (slot, z);
        }
        else if (path != filePath[slot] || slotKind[slot] == "latent")
            setReferenceFile (slot, path);
    }
    if (tree.hasProperty ("setting"))
        applySetting (tree.getProperty ("setting").toString());
    if (tree.hasProperty ("osc_port"))
        startOsc ((int) tree.getProperty ("osc_port"));
}

bool EventSepProcessor::applySetting (const juce::String& name)
{
    if (name != "default" && name != "low_latency")
    {
        const juce::ScopedLock sl (controlLock);
        error = "unknown setting " + name + "; use default or low_latency";
        return false;
    }
    if (name == setting)
        return true;
    // a new latency: re-prepared with processing suspended (JUCE waits for the block under way to finish)
    suspendProcessing (true);
    setting = name;
    lookaheadFrames.store (name == "low_latency" ? 0 : -1);
    if (engine != nullptr && engine->prepared())
        prepareToPlay (getSampleRate(), getBlockSize());
    else
        announceLatency (getSampleRate());
    suspendProcessing (false);
    return true;
}

juce::AudioProcessorEditor* EventSepProcessor::createEditor()
{
    return new juce::GenericAudioProcessorEditor (*this);
}

juce::AudioProcessor* JUCE_CALLTYPE createPluginFilter()
{
    return new EventSepProcessor();
}
