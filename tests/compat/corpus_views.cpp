#include "tests/compat/corpus_views.hpp"

#include <fstream>
#include <set>
#include <sstream>

#include "projections/audit.hpp"
#include "projections/health_views.hpp"
#include "projections/views.hpp"
#include "src/system_config.hpp"

namespace keyledger::compat {

Result<std::string> ReadFileText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return MakeError(ErrorCode::kNotFound, "cannot open " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

Result<LoadedCorpus> LoadExport(std::string_view jsonl) {
  LoadedCorpus out;
  out.log = std::make_unique<events::MemoryEventLog>();
  events::Hash prev = events::GenesisHash();
  size_t line_no = 0;
  size_t pos = 0;
  while (pos < jsonl.size()) {
    size_t end = jsonl.find('\n', pos);
    if (end == std::string_view::npos) end = jsonl.size();
    const std::string_view line = jsonl.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (line.empty()) continue;
    const std::string where = "line " + std::to_string(line_no) + ": ";
    auto parsed = projections::ParseExportJson(line);
    if (!parsed.ok()) return MakeError(parsed.error().code, where + parsed.error().message);
    events::EventRecord r = std::move(parsed).value();
    if (r.prev_hash != prev || !events::VerifyRecordHash(r)) {
      return MakeError(ErrorCode::kCorruption, where + "the hash chain does not verify");
    }
    events::StreamAppend append;
    append.stream = r.stream;
    append.expected_version = static_cast<int64_t>(r.stream_version - 1);
    append.metadata = r.metadata;
    append.events.push_back(events::NewEvent{r.type, r.schema_version, r.payload, r.time_us});
    events::AppendRequest request;
    request.streams.push_back(std::move(append));
    auto appended = out.log->Append(std::move(request));
    if (!appended.ok()) return MakeError(appended.error().code, where + appended.error().message);
    if (appended->sequences.at(0) != r.sequence || appended->hashes.at(0) != r.hash) {
      return MakeError(ErrorCode::kCorruption,
                       where + "re-appending the record does not reproduce its sequence and hash");
    }
    prev = r.hash;
    out.records.push_back(std::move(r));
  }
  return out;
}

namespace {

class Sections {
 public:
  void Add(std::string_view name, std::string_view json) {
    text_ += "# ";
    text_ += name;
    text_ += '\n';
    text_ += json;
    text_ += '\n';
  }
  std::string Take() { return std::move(text_); }

 private:
  std::string text_;
};

}  // namespace

Result<std::string> CorpusViews(const projections::State& s, const events::EventReader& log,
                                const std::vector<events::EventRecord>& records) {
  using namespace projections;
  const int64_t now = s.time_us;
  Sections out;
  out.Add("digest", DigestJson(s, true));
  out.Add("providers (summaries)", ProviderSummariesJson(s));
  out.Add("providers (list)", ProviderListJson(s, 0, 1000, std::nullopt));
  for (const std::string& id : s.providers.SortedKeys()) {
    const ProviderState& p = *s.providers.Find(id);
    out.Add("provider " + id, ProviderSummaryJson(s, p));
    out.Add("provider " + id + " endpoints", EndpointListJson(s, id, 0, 1000));
    out.Add("provider " + id + " keys", KeyListJson(s, id, 0, 1000));
  }
  for (const std::string& id : s.endpoints.SortedKeys()) {
    out.Add("endpoint " + id, EndpointResponseJson(s, *s.endpoints.Find(id)));
  }
  for (const std::string& id : s.keys.SortedKeys()) {
    const KeyState& k = *s.keys.Find(id);
    out.Add("key " + id, KeyResponseJson(k));
    out.Add("key " + id + " health", KeyHealthJson(k, std::nullopt, now));
    out.Add("key " + id + " rpm", KeyRpmJson(k));
    out.Add("key " + id + " adaptive stats", AdaptiveStatsJson(k));
  }
  out.Add("keys grouped by format", GroupedByFormatJson(s));
  out.Add("health summary", HealthSummaryJson(s));
  KL_ASSIGN_OR_RETURN(std::string status, HealthStatusJson(s, log, 24 * 365, now));
  out.Add("health status", status);
  KL_ASSIGN_OR_RETURN(std::string formats, ApiFormatHealthJson(s, log, 24 * 365, 50, now));
  out.Add("api format health", formats);
  out.Add("adaptive keys", AdaptiveKeysJson(s, std::nullopt));
  out.Add("adaptive summary", AdaptiveSummaryJson(s));
  for (const auto& spec : registry::SystemConfigCatalogue()) {
    out.Add("system config " + std::string(spec.key), registry::SystemConfigGetJson(s, spec));
  }
  std::set<std::string> key_ids;
  for (const events::EventRecord& r : records) {
    out.Add("event " + std::to_string(r.sequence), EventJson(r));
    if (r.stream.starts_with("key-")) key_ids.insert(r.stream.substr(4));
  }
  for (const std::string& id : key_ids) {
    KL_ASSIGN_OR_RETURN(std::string history, KeyHistoryJson(log, id));
    out.Add("key history " + id, history);
  }
  return out.Take();
}

}  // namespace keyledger::compat
