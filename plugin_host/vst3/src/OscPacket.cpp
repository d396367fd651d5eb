#include "OscPacket.h"

#include <cmath>
#include <cstring>

namespace eventsep::osc
{
namespace
{
struct Reader
{
    const uint8_t* data;
    size_t size, pos = 0;

    bool string (std::string& out)
    {
        const void* end = pos < size ? std::memchr (data + pos, 0, size - pos) : nullptr;
        if (end == nullptr)
            return false;
        const size_t len = (size_t) (static_cast<const uint8_t*> (end) - (data + pos));
        out.assign (reinterpret_cast<const char*> (data + pos), len);
        pos += (len + 4) & ~(size_t) 3;            // the terminator and the padding to 4 bytes
        return pos <= size;
    }

    bool u32 (uint32_t& v)
    {
        if (size - pos < 4 || pos > size)
            return false;
        v = (uint32_t) data[pos] << 24 | (uint32_t) data[pos + 1] << 16 | (uint32_t) data[pos + 2] << 8 | data[pos + 3];
        pos += 4;
        return true;
    }

    bool u64 (uint64_t& v)
    {
        uint32_t hi = 0, lo = 0;
        if (! u32 (hi) || ! u32 (lo))
            return false;
        v = (uint64_t) hi << 32 | lo;
        return true;
    }
};

void putString (std::vector<uint8_t>& out, const std::string& s)
{
    out.insert (out.end(), s.begin(), s.end());
    const size_t pad = 4 - s.size() % 4;
    out.insert (out.end(), pad, 0);
}

void putU32 (std::vector<uint8_t>& out, uint32_t v)
{
    for (int shift = 24; shift >= 0; shift -= 8)
        out.push_back ((uint8_t) (v >> shift));
}
} // namespace

bool parse (const uint8_t* data, size_t size, std::vector<Message>& out, int depth)
{
    if (size < 4 || size % 4 != 0 || depth > 8)
        return false;
    Reader r { data, size };
    std::string head;
    if (! r.string (head))
        return false;
    if (head == "#bundle")
    {
        uint64_t timetag = 0;
        if (! r.u64 (timetag))
            return false;
        while (r.pos < size)
        {
            uint32_t len = 0;
            if (! r.u32 (len) || len > size - r.pos || ! parse (data + r.pos, len, out, depth + 1))
                return false;
            r.pos += len;
        }
        return true;
    }
    if (head.empty() || head[0] != '/')
        return false;
    Message m { head, {} };
    std::string tags;
    if (r.pos < size && ! r.string (tags))
        return false;
    if (! tags.empty() && tags[0] != ',')
        return false;
    for (size_t t = 1; t < tags.size(); ++t)
    {
        Arg a;
        a.type = tags[t];
        uint32_t u = 0;
        uint64_t w = 0;
        switch (a.type)
        {
            case 'i': if (! r.u32 (u)) return false; a.i = (int32_t) u; break;
            case 'f': { if (! r.u32 (u)) return false; float f; std::memcpy (&f, &u, 4); a.f = f; break; }
            case 'h': if (! r.u64 (w)) return false; a.i = (int64_t) w; break;
            case 'd': { if (! r.u64 (w)) return false; double d; std::memcpy (&d, &w, 8); a.f = d; break; }
            case 's': case 'S': if (! r.string (a.s)) return false; a.type = 's'; break;
            case 'b':
                if (! r.u32 (u) || u > size - r.pos) return false;
                a.s.assign (reinterpret_cast<const char*> (data + r.pos), u);
                r.pos += (u + 3) & ~(uint32_t) 3;
                if (r.pos > size) return false;
                break;
            case 'T': a.i = 1; break;
            case 'F': case 'N': case 'I': break;
            default: return false;          // a type we cannot skip safely
        }
        m.args.push_back (std::move (a));
    }
    out.push_back (std::move (m));
    return true;
}

std::vector<uint8_t> build (const Message& message)
{
    std::vector<uint8_t> out;
    putString (out, message.address);
    std::string tags = ",";
    for (const auto& a : message.args)
        tags += a.type;
    putString (out, tags);
    for (const auto& a : message.args)
    {
        if (a.type == 'i')
            putU32 (out, (uint32_t) (int32_t) a.i);
        else if (a.type == 'f')
        {
            const float f = (float) a.f;
            uint32_t u;
            std::memcpy (&u, &f, 4);
            putU32 (out, u);
        }
        else if (a.type == 's')
            putString (out, a.s);
    }
    return out;
}

Arg text (const std::string& s) { Arg a; a.type = 's'; a.s = s; return a; }
Arg integer (int64_t v) { Arg a; a.type = 'i'; a.i = v; return a; }
Arg real (double v) { Arg a; a.type = 'f'; a.f = v; return a; }
} // namespace eventsep::osc
