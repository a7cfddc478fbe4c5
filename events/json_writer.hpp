#pragma once
// A small streaming JSON writer producing compact output byte-compatible with Python's
// `json.dumps(obj, ensure_ascii=False, separators=(",", ":"))`, which is what Aether's FastAPI
// responses use: non-ASCII text is emitted as UTF-8, floats use Python's repr.
//
// The writer trusts its callers to pass valid UTF-8 (every input is validated at the boundary)
// and to balance Begin/End calls; misuse is a programming error caught by assertions in debug.
// Not thread-safe; cheap to create.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace keyledger::json {

// Appends `s` as a quoted JSON string.
void AppendString(std::string& out, std::string_view s);
// Appends a finite double the way Python's repr() prints it (1.0, 0.1, 1e-05, 1e+16).
void AppendDouble(std::string& out, double v);

class Writer {
 public:
  Writer() = default;
  explicit Writer(size_t reserve) { out_.reserve(reserve); }

  Writer& BeginObject();
  Writer& EndObject();
  Writer& BeginArray();
  Writer& EndArray();
  Writer& Key(std::string_view key);
  Writer& String(std::string_view v);
  Writer& Int(int64_t v);
  Writer& Uint(uint64_t v);
  Writer& Double(double v);
  Writer& Bool(bool v);
  Writer& Null();
  // Inserts already-serialized JSON as one value.
  Writer& Raw(std::string_view json);

  // Convenience for object members.
  Writer& Member(std::string_view key, std::string_view v) { return Key(key).String(v); }
  Writer& Member(std::string_view key, const char* v) { return Key(key).String(v); }
  Writer& Member(std::string_view key, int64_t v) { return Key(key).Int(v); }
  Writer& Member(std::string_view key, uint64_t v) { return Key(key).Uint(v); }
  Writer& Member(std::string_view key, int v) { return Key(key).Int(v); }
  Writer& Member(std::string_view key, double v) { return Key(key).Double(v); }
  Writer& Member(std::string_view key, bool v) { return Key(key).Bool(v); }

  const std::string& str() const { return out_; }
  std::string Take() { return std::move(out_); }

 private:
  void BeforeValue();

  std::string out_;
  // One entry per open container: true once it holds at least one element.
  std::vector<bool> has_element_;
  bool after_key_ = false;
};

}  // namespace keyledger::json
