#include "OscControl.h"

#include <cmath>

using eventsep::osc::Message;

OscControl::OscControl (ControlSurface& p, int port) : juce::Thread ("EventSep OSC"), processor (p)
{
    if (port > 0 && port < 65536 && socket.bindToPort (port, "127.0.0.1"))
    {
        connected = true;
        boundPort = port;
        startThread();
    }
}

OscControl::~OscControl()
{
    signalThreadShouldExit();
    socket.shutdown();
    stopThread (2000);
}

void OscControl::run()
{
    std::vector<uint8_t> buffer (65536);
    std::vector<Message> batch;
    while (! threadShouldExit())
    {
        if (socket.waitUntilReady (true, 100) <= 0)
            continue;
        juce::String ip;
        int port = 0;
        const int n = socket.read (buffer.data(), (int) buffer.size(), false, ip, port);
        if (n <= 0)
            continue;
        batch.clear();
        if (! eventsep::osc::parse (buffer.data(), (size_t) n, batch))
        {
            ++refused;
            continue;
        }
        for (const auto& m : batch)
            handle (m, ip, port);
    }
}

void OscControl::handle (const Message& m, const juce::String& senderIp, int senderPort)
{
    const std::string& address = m.address;
    auto single = [&] (char kind) { return m.args.size() == 1 && (kind == 'n' ? m.args[0].isNumber() : m.args[0].type == 's'); };
    bool ok = false;
    if ((address == "/eventsep/interp" || address == "/eventsep/mix") && single ('n'))
    {
        const double v = m.args[0].number();
        ok = std::isfinite (v) && v >= 0.0 && v <= 1.0;
        if (ok)
            processor.setUnit (address.substr (address.rfind ('/') + 1), (float) v);
    }
    else if ((address == "/eventsep/bypass" || address == "/eventsep/residual") && single ('n'))
    {
        const double v = m.args[0].number();
        ok = v == 0.0 || v == 1.0;
        if (ok)
            processor.setUnit (address.substr (address.rfind ('/') + 1), (float) v);
    }
    else if ((address == "/eventsep/class/a" || address == "/eventsep/class/b") && single ('s'))
        ok = processor.setClassByName (address.back() == 'a' ? 0 : 1, m.args[0].s);
    else if ((address == "/eventsep/query/a" || address == "/eventsep/query/b") && single ('s'))
        ok = processor.setReferenceFile (address.back() == 'a' ? 0 : 1, m.args[0].s);
    else if (address == "/eventsep/preset/load" && single ('s'))
        ok = processor.loadPreset (m.args[0].s);
    else if (address == "/eventsep/status" && m.args.empty())
    {
        Message reply { "/eventsep/status", {} };
        for (const auto& [name, value] : processor.status())
        {
            reply.args.push_back (eventsep::osc::text (name.toStdString()));
            if (value.isInt() || value.isBool())
                reply.args.push_back (eventsep::osc::integer ((int) value));
            else if (value.isDouble())
                reply.args.push_back (eventsep::osc::real ((double) value));
            else
                reply.args.push_back (eventsep::osc::text (value.toString().toStdString()));
        }
        const auto bytes = eventsep::osc::build (reply);
        ok = socket.write (senderIp, senderPort, bytes.data(), (int) bytes.size()) > 0;
    }
    ++(ok ? messages : refused);
}
