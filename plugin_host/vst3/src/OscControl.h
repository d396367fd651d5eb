// OSC on 127.0.0.1 with the address space of `eventsep serve` (plugin_host/osc/address.py): /eventsep/interp f,
// /eventsep/mix f, /eventsep/bypass i, /eventsep/residual i, /eventsep/class/a|b s, /eventsep/query/a|b s.
// Messages arrive on the receiver's own thread; parameters change through the host-visible parameters, so
// the DAW sees (and can record) what the OSC surface does. Malformed datagrams are dropped.
#pragma once

#include <juce_osc/juce_osc.h>

class EventSepProcessor;

class OscControl : private juce::OSCReceiver::Listener<juce::OSCReceiver::RealtimeCallback>
{
public:
    OscControl (EventSepProcessor& processor, int port);
    ~OscControl() override;

    bool listening() const { return connected; }
    int port() const { return boundPort; }

private:
    void oscMessageReceived (const juce::OSCMessage& message) override;

    EventSepProcessor& processor;
    juce::DatagramSocket socket { false };
    juce::OSCReceiver receiver { "EventSep OSC" };
    bool connected = false;
    int boundPort = 0;
};
