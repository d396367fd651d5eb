#include "OscControl.h"

#include "PluginProcessor.h"

OscControl::OscControl (EventSepProcessor& p, int port) : processor (p)
{
    if (port > 0 && port < 65536 && socket.bindToPort (port, "127.0.0.1") && receiver.connectToSocket (socket))
    {
        connected = true;
        boundPort = port;
        receiver.addListener (this);
    }
}

OscControl::~OscControl()
{
    receiver.removeListener (this);
    receiver.disconnect();
    socket.shutdown();
}

static bool numberOf (const juce::OSCMessage& m, float& value)
{
    if (m.size() != 1)
        return false;
    const auto& a = m[0];
    if (a.isFloat32())
        value = a.getFloat32();
    else if (a.isInt32())
        value = (float) a.getInt32();
    else
        return false;
    return std::isfinite (value);
}

void OscControl::oscMessageReceived (const juce::OSCMessage& m)
{
    const juce::String address = m.getAddressPattern().toString();
    float value = 0.0f;
    if (address == "/eventsep/interp" || address == "/eventsep/mix")
    {
        if (numberOf (m, value) && value >= 0.0f && value <= 1.0f)
            processor.setUnit (address.fromLastOccurrenceOf ("/", false, false), value);
    }
    else if (address == "/eventsep/bypass" || address == "/eventsep/residual")
    {
        if (numberOf (m, value) && (value == 0.0f || value == 1.0f))
            processor.setUnit (address.fromLastOccurrenceOf ("/", false, false), value);
    }
    else if (m.size() == 1 && m[0].isString())
    {
        const juce::String text = m[0].getString();
        if (address == "/eventsep/class/a" || address == "/eventsep/class/b")
            processor.setClassByName (address.endsWith ("a") ? 0 : 1, text);
        else if (address == "/eventsep/query/a" || address == "/eventsep/query/b")
            processor.setReferenceFile (address.endsWith ("a") ? 0 : 1, text);
    }
}
