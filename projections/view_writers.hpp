#pragma once
// Small json::Writer helpers shared by the view serializers (views.cpp, health_views.cpp): an
// optional value as the value or null, times in Aether's two formats, a string list.

#include <cstdint>
#include <optional>
#include <string>

#include "events/json_writer.hpp"
#include "events/time_format.hpp"
#include "projections/state.hpp"

namespace keyledger::projections {

// A time as pydantic prints it ("2026-01-13T05:00:00Z"), or null.
inline void PutTime(json::Writer& w, const std::optional<int64_t>& t) {
  if (t) {
    w.String(events::FormatTimestampZ(*t));
  } else {
    w.Null();
  }
}

// A time as Python's isoformat() prints it ("2026-01-13T05:00:00+00:00"), or null.
inline void PutIsoTime(json::Writer& w, const std::optional<int64_t>& t) {
  if (t) {
    w.String(events::FormatTimestampIso(*t));
  } else {
    w.Null();
  }
}

inline void PutOptInt(json::Writer& w, const std::optional<int64_t>& v) {
  if (v) {
    w.Int(*v);
  } else {
    w.Null();
  }
}

inline void PutOptDouble(json::Writer& w, const std::optional<double>& v) {
  if (v) {
    w.Double(*v);
  } else {
    w.Null();
  }
}

inline void PutOptString(json::Writer& w, const std::optional<std::string>& v) {
  if (v) {
    w.String(*v);
  } else {
    w.Null();
  }
}

inline void PutStrings(json::Writer& w, const StringList& v) {
  w.BeginArray();
  for (const auto& s : v) w.String(s);
  w.EndArray();
}

}  // namespace keyledger::projections
