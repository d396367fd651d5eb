// OSC on 127.0.0.1 with the address space of `eventsep serve` (plugin_host/osc/address.py): /eventsep/interp f,
// /eventsep/mix f, /eventsep/bypass i, /eventsep/residual i, /eventsep/class/a|b s, /eventsep/query/a|b s,
// /eventsep/preset/load s, and /eventsep/status, answered to the sender with name/value pairs. Datagrams are
// read on this object's own thread (bundles flattened); parameters change through the host-visible
// parameters, so a DAW sees (and can record) what the OSC surface does. Malformed datagrams are dropped.
#pragma once

#include "ControlSurface.h"
#include "OscPacket.h"

#include <juce_core/juce_core.h>

#include <atomic>

class OscControl : private juce::Thread
{
public:
    OscControl (ControlSurface& target, int port);
    ~OscControl() override;

    bool listening() const { return connected; }
    int port() const { return boundPort; }
    int received() const { return messages.load(); }
    int rejected() const { return refused.load(); }

private:
    void run() override;
    void handle (const eventsep::osc::Message& message, const juce::String& senderIp, int senderPort);

    ControlSurface& processor;
    juce::DatagramSocket socket { false };
    bool connected = false;
    int boundPort = 0;
    std::atomic<int> messages { 0 }, refused { 0 };
};
