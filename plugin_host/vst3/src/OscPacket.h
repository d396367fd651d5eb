// OSC 1.0 datagrams: parsing messages and bundles (int32, float32, string, blob, int64, double, T/F/N/I) and
// building replies. Malformed input is refused as a whole (parse returns false); nothing here throws.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace eventsep::osc
{
struct Arg
{
    char type = 'N';
    int64_t i = 0;                 // i, h, T (1), F (0)
    double f = 0.0;                // f, d
    std::string s;                 // s, b
    bool isNumber() const { return type == 'i' || type == 'h' || type == 'f' || type == 'd'; }
    double number() const { return type == 'f' || type == 'd' ? f : (double) i; }
};

struct Message
{
    std::string address;
    std::vector<Arg> args;
};

// Appends the messages of a datagram (bundles flattened, at most 8 levels deep) to `out`.
bool parse (const uint8_t* data, size_t size, std::vector<Message>& out, int depth = 0);

std::vector<uint8_t> build (const Message& message);

Arg text (const std::string& s);
Arg integer (int64_t v);
Arg real (double v);
} // namespace eventsep::osc
