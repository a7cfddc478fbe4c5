// keyledger-audit log and history: events as an aligned table on a terminal, JSONL for scripts.

#include <algorithm>
#include <cstdio>

#include "events/time_format.hpp"
#include "projections/audit.hpp"
#include "projections/state.hpp"
#include "tools/audit/audit_commands.hpp"
#include "tools/common/tool_support.hpp"

namespace keyledger::tools::audit {
namespace {

using events::EventRecord;
using events::EventType;

constexpr const char* kLogUsage =
    "usage: keyledger-audit log --data-dir DIR [--stream S] [--key ID] [--provider ID]\n"
    "                           [--type T]... [--actor A] [--since TIME] [--until TIME]\n"
    "                           [--after N] [--limit K] [--format table|jsonl]\n"
    "                           [--color auto|always|never]\n"
    "\n"
    "The events in log order. Secrets are never decrypted: a sealed secret is shown as its\n"
    "data-key id and ciphertext length only.\n"
    "\n"
    "  --data-dir DIR     the data directory; or --etcd-endpoints URL,... (and --etcd-prefix,\n"
    "                     ...: keyledger-audit --help) for a log on etcd\n"
    "  --stream S         one stream (key-<id>, provider-<id>, endpoint-<id>, keyring)\n"
    "  --key ID           the key's stream, key-<ID>\n"
    "  --provider ID      the provider's stream, events naming it, and every event of its keys\n"
    "                     and endpoints\n"
    "  --type T           an event type (KeyCreated, KeyRevealed, ...); repeat or separate by\n"
    "                     commas for several\n"
    "  --actor A          events caused by this actor (token name or JWT subject)\n"
    "  --since TIME       at or after TIME (RFC 3339 or microseconds since the epoch)\n"
    "  --until TIME       at or before TIME\n"
    "  --after N          only sequences > N (resume a listing)\n"
    "  --limit K          at most K events (default: all)\n"
    "  --format F         table (default on a terminal) or jsonl (default otherwise): one\n"
    "                     event per line, {\"seq\",\"stream\",\"stream_version\",\"type\",\n"
    "                     \"schema_version\",\"time\",\"actor\",\"client_ip\",\"request_id\",\n"
    "                     \"reason\",\"payload\",\"prev_hash\",\"hash\"}\n"
    "  --color C          auto (default: only on a terminal), always, never\n";

constexpr const char* kHistoryUsage =
    "usage: keyledger-audit history KEY_ID --data-dir DIR [--no-health-reports]\n"
    "                               [--format table|jsonl|json] [--color auto|always|never]\n"
    "\n"
    "A key's whole life, also after it was deleted: created, each update with the fields that\n"
    "changed and their values before and after (secrets as data-key id and ciphertext length),\n"
    "reveals with actor, client IP and reason, health reports and resets, deletion and the\n"
    "crypto-shredding of its data keys.\n"
    "\n"
    "  --data-dir DIR       the data directory; or --etcd-endpoints URL,... (and --etcd-prefix,\n"
    "                       ...: keyledger-audit --help) for a log on etcd\n"
    "  --no-health-reports  leave out KeyHealthReported events (a busy key has many)\n"
    "  --format F           table (default on a terminal), jsonl (one event per line, each\n"
    "                       with \"changes\":[{\"field\",\"before\",\"after\"}]), or json (the\n"
    "                       document GET /api/admin/audit/keys/{id}/history answers)\n"
    "\n"
    "Exit status: 0 found, 1 the key never existed, 2 usage error, 3 could not run.\n";

// "12", or "null" (an RPM limit of null means adaptive mode).
std::string OptIntText(const std::optional<int64_t>& v) {
  return v ? std::to_string(*v) : std::string("null");
}

std::string Joined(const std::vector<std::string>& list) {
  std::string out;
  for (const std::string& s : list) {
    if (!out.empty()) out += ",";
    out += s;
  }
  return out;
}

std::string Names(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) {
    if (!out.empty()) out += ", ";
    out += n;
  }
  return out;
}

std::string Reason(const EventRecord& r) {
  return r.metadata.reason ? "\"" + *r.metadata.reason + "\"" : std::string("none");
}

// What one event did, from its typed payload (the newest shape of its type, any stored schema
// version upcast). Never shows a secret: only masks, data-key ids and names.
struct Describe {
  const EventRecord& r;

  std::string operator()(const projections::ProviderCreated& e) const {
    return "provider \"" + e.provider.name + "\"";
  }
  std::string operator()(const projections::EndpointCreated& e) const {
    return e.endpoint.api_format + " " + e.endpoint.base_url + " (provider " +
           e.endpoint.provider_id + ")";
  }
  std::string operator()(const projections::KeyCreated& e) const {
    const std::string mask = e.key.secret.mask.empty() ? "?" : e.key.secret.mask;
    return "\"" + e.key.name + "\" " + Joined(e.key.api_formats) + " secret " + mask +
           " (provider " + e.key.provider_id + ")";
  }
  std::string operator()(const projections::ProviderUpdated& e) const {
    return "set " + Names(e.set.names);
  }
  std::string operator()(const projections::EndpointUpdated& e) const {
    return "set " + Names(e.set.names);
  }
  std::string operator()(const projections::KeyUpdated& e) const {
    std::string out = "set " + Names(e.set.names);
    if (e.retired_dek_id && !e.retired_dek_id->empty()) {
      out += "; secret replaced, data key " + *e.retired_dek_id + " shredded";
    }
    return out;
  }
  std::string operator()(const projections::ProviderDeleted& e) const {
    return "deleted with " + std::to_string(e.deleted_keys) + " keys and " +
           std::to_string(e.deleted_endpoints) + " endpoints";
  }
  std::string operator()(const projections::EndpointDeleted& e) const {
    return "deleted (" + e.cause + ")";
  }
  std::string operator()(const projections::KeyDeleted& e) const {
    return "deleted (" + e.cause + "); data key " + e.shredded_dek_id + " shredded";
  }
  std::string operator()(const projections::ProviderCredentialsRevealed& e) const {
    return "credentials " + Joined(e.revealed) + " revealed; reason: " + Reason(r);
  }
  std::string operator()(const projections::EndpointCredentialsRevealed& e) const {
    return "credentials " + Joined(e.revealed) + " revealed; reason: " + Reason(r);
  }
  std::string operator()(const projections::KeyRevealed& e) const {
    return "secret v" + std::to_string(e.secret_version) + " revealed; reason: " + Reason(r);
  }
  std::string operator()(const projections::KeyHealthReported& e) const {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f", e.health.health_score);
    std::string out = e.api_format + " +" + std::to_string(e.successes) + " -" +
                      std::to_string(e.failures) + " health " + buf;
    if (e.breaker.open) out += ", breaker open";
    if (e.last_error && !e.last_error->empty()) out += ", last error: " + *e.last_error;
    return out;
  }
  std::string operator()(const projections::KeyHealthReset& e) const {
    return "health reset: " + Joined(e.formats);
  }
  std::string operator()(const projections::KeyAdaptiveModeChanged& e) const {
    std::string out = e.adaptive
                          ? std::string("adaptive RPM mode")
                          : "fixed RPM mode, limit " + std::to_string(e.rpm_limit.value_or(0));
    return out + " (was " + OptIntText(e.previous_rpm_limit) + ")";
  }
  std::string operator()(const projections::KeyRpmLimitSet& e) const {
    return "RPM limit " + std::to_string(e.rpm_limit.value_or(0)) + " (was " +
           OptIntText(e.previous_rpm_limit) + ")";
  }
  std::string operator()(const projections::KeyLearningReset& e) const {
    return "adaptive learning reset (learned limit was " +
           OptIntText(e.previous_learned_rpm_limit) + ")";
  }
  std::string operator()(const projections::MasterKeyRotated& e) const {
    return "master key rotated: KEK v" + std::to_string(e.from_kek_version) + " -> v" +
           std::to_string(e.to_kek_version) + ", " + std::to_string(e.rewrapped_deks) +
           " data keys rewrapped";
  }
  std::string operator()(const projections::SystemConfigSet& e) const {
    return "system config " + e.key + " = " + e.value.text;
  }
};

}  // namespace

struct EventSummarizer::Impl {
  projections::EventDecoder decoder;
};

EventSummarizer::EventSummarizer() : impl_(std::make_unique<Impl>()) {}
EventSummarizer::~EventSummarizer() = default;

std::string EventSummarizer::Summary(const EventRecord& r) {
  Result<projections::Event> event = impl_->decoder.Decode(r);
  if (!event.ok()) {
    // A schema version this build cannot read is named as the fold names it.
    if (event.error().code == ErrorCode::kUnsupported) return "(" + event.error().message + ")";
    return "(payload cannot be decoded)";
  }
  return Summary(r, *event);
}

std::string EventSummarizer::Summary(const EventRecord& r, const projections::Event& event) {
  std::string out = std::visit(Describe{r}, event);
  // Reveals name their reason above; every other event with one says it at the end.
  if (r.metadata.reason && r.type != EventType::kKeyRevealed &&
      r.type != EventType::kProviderCredentialsRevealed &&
      r.type != EventType::kEndpointCredentialsRevealed) {
    out += "; reason: \"" + *r.metadata.reason + "\"";
  }
  return out;
}

std::string_view EventColor(EventType type) {
  switch (type) {
    case EventType::kProviderCreated:
    case EventType::kEndpointCreated:
    case EventType::kKeyCreated:
      return "32";  // green
    case EventType::kProviderDeleted:
    case EventType::kEndpointDeleted:
    case EventType::kKeyDeleted:
      return "31";  // red
    case EventType::kKeyRevealed:
    case EventType::kProviderCredentialsRevealed:
    case EventType::kEndpointCredentialsRevealed:
    case EventType::kMasterKeyRotated:
      return "33";  // yellow
    case EventType::kKeyHealthReported:
    case EventType::kKeyHealthReset:
    case EventType::kKeyLearningReset:
      return "2";  // dim
    case EventType::kProviderUpdated:
    case EventType::kEndpointUpdated:
    case EventType::kKeyUpdated:
    case EventType::kKeyAdaptiveModeChanged:
    case EventType::kKeyRpmLimitSet:
    case EventType::kSystemConfigSet:
      return "36";  // cyan
  }
  return "";
}

namespace {

// Fixed-width columns, so that a long listing streams instead of being buffered.
class LogTable {
 public:
  LogTable(const Style& style, uint64_t head) : style_(style) {
    widths_[0] = std::max<size_t>(3, std::to_string(head).size());
  }

  void Header() {
    const char* names[] = {"SEQ", "TIME", "TYPE", "STREAM", "ACTOR", "CLIENT IP", "DETAILS"};
    std::string line;
    for (size_t i = 0; i < 7; ++i) line += Cell(names[i], i, "1");
    Emit(line);
  }

  void Row(const EventRecord& r, const std::string& details) {
    std::string line;
    line += Cell(std::to_string(r.sequence), 0, "");
    line += Cell(events::FormatTimestampZ(r.time_us), 1, "2");
    line += Cell(std::string(events::EventTypeName(r.type)), 2, EventColor(r.type));
    line += Cell(r.stream, 3, "");
    line += Cell(r.metadata.actor, 4, "");
    line += Cell(r.metadata.client_ip, 5, "");
    line += Cell(details, 6, "");
    Emit(line);
  }

 private:
  std::string Cell(const std::string& text, size_t column, std::string_view color) {
    const std::string printable = Printable(text);
    if (column == 6) return style_.Wrap(color, printable);
    const std::string cut = Truncate(printable, widths_[column]);
    std::string cell = style_.Wrap(color, cut);
    if (column == 0) {  // numbers align right
      return std::string(widths_[column] - DisplayWidth(cut), ' ') + cell + "  ";
    }
    return cell + std::string(widths_[column] - DisplayWidth(cut) + 2, ' ');
  }

  static void Emit(std::string& line) {
    while (!line.empty() && line.back() == ' ') line.pop_back();
    std::fprintf(stdout, "%s\n", line.c_str());
  }

  const Style& style_;
  size_t widths_[7] = {3, 27, 17, 45, 16, 15, 0};
};

Result<std::vector<EventType>> ParseTypes(const std::vector<std::string>& values) {
  std::vector<EventType> out;
  for (const std::string& value : values) {
    size_t start = 0;
    while (start <= value.size()) {
      size_t comma = value.find(',', start);
      if (comma == std::string::npos) comma = value.size();
      std::string name = value.substr(start, comma - start);
      if (!name.empty()) {
        auto type = events::EventTypeFromName(name);
        if (!type) {
          return MakeError(ErrorCode::kInvalidArgument,
                           "unknown event type " + name +
                               " (KeyCreated, KeyUpdated, KeyDeleted, KeyRevealed, "
                               "KeyHealthReported, KeyHealthReset, ProviderCreated, ...)");
        }
        out.push_back(*type);
      }
      start = comma + 1;
    }
  }
  return out;
}

}  // namespace

int RunLog(const std::vector<std::string>& argv) {
  auto args = Args::Parse(argv, StoreOptionSpecs({{"--stream", true},
                                                  {"--key", true},
                                                  {"--provider", true},
                                                  {"--type", true, true},
                                                  {"--actor", true},
                                                  {"--since", true},
                                                  {"--until", true},
                                                  {"--after", true},
                                                  {"--limit", true},
                                                  {"--format", true},
                                                  {"--color", true}}));
  if (!args.ok()) return UsageError(args.error().message, kLogUsage);
  if (args->help()) {
    std::fputs(kLogUsage, stdout);
    return kExitOk;
  }
  if (!args->positionals().empty()) {
    return UsageError("unexpected argument " + args->positionals().front(), kLogUsage);
  }
  auto target = StoreTargetFrom(*args);
  if (!target.ok()) return UsageError(target.error().message, kLogUsage);

  projections::EventFilter filter;
  filter.stream = args->Get("--stream");
  filter.key_id = args->Get("--key");
  filter.provider_id = args->Get("--provider");
  filter.actor = args->Get("--actor");
  auto types = ParseTypes(args->GetAll("--type"));
  if (!types.ok()) return UsageError(types.error().message, kLogUsage);
  filter.types = std::move(types).value();
  for (auto [name, out] :
       {std::pair{"--since", &filter.since_us}, std::pair{"--until", &filter.until_us}}) {
    if (auto v = args->Get(name)) {
      auto t = ParseTime(*v, name);
      if (!t.ok()) return UsageError(t.error().message, kLogUsage);
      *out = *t;
    }
  }
  uint64_t limit = UINT64_MAX;
  if (auto v = args->Get("--after")) {
    auto n = ParseUint(*v, "--after");
    if (!n.ok()) return UsageError(n.error().message, kLogUsage);
    filter.after = *n;
  }
  if (auto v = args->Get("--limit")) {
    auto n = ParseUint(*v, "--limit");
    if (!n.ok()) return UsageError(n.error().message, kLogUsage);
    limit = *n;
  }
  const std::string format = args->Get("--format").value_or(IsTty(stdout) ? "table" : "jsonl");
  if (format != "table" && format != "jsonl") {
    return UsageError("--format must be table or jsonl", kLogUsage);
  }
  auto style = StyleFor(*args, stdout);
  if (!style.ok()) return UsageError(style.error().message, kLogUsage);

  auto opened =
      OpenTarget(*target, Access::kRead, /*check_head=*/false, StderrSink("keyledger-audit"));
  if (!opened.ok()) return Fail(kExitError, opened.error().message);
  events::EventLog& log = (*opened)->log();

  LogTable table(*style, log.GetHead().sequence);
  EventSummarizer summarizer;
  if (format == "table") table.Header();
  uint64_t printed = 0;
  while (printed < limit) {
    const size_t page_limit = static_cast<size_t>(std::min<uint64_t>(limit - printed, 1000));
    auto page = projections::QueryEvents(log, filter, page_limit, /*max_scan=*/0);
    if (!page.ok()) return Fail(kExitError, page.error().message);
    for (const EventRecord& r : page->events) {
      if (format == "jsonl") {
        const std::string line = projections::EventJson(r);
        std::fwrite(line.data(), 1, line.size(), stdout);
        std::fputc('\n', stdout);
      } else {
        table.Row(r, summarizer.Summary(r));
      }
    }
    printed += page->events.size();
    filter.after = page->next_after;
    if (page->at_head || page->complete) break;
  }
  if (format == "table" && IsTty(stdout)) {
    std::fprintf(stdout, "%s\n",
                 style
                     ->Dim(FormatCount(printed) + " events; continue with --after " +
                           std::to_string(filter.after))
                     .c_str());
  }
  if (std::fflush(stdout) != 0) return Fail(kExitError, "cannot write the output");
  return kExitOk;
}

int RunHistory(const std::vector<std::string>& argv) {
  auto args = Args::Parse(
      argv, StoreOptionSpecs({{"--no-health-reports"}, {"--format", true}, {"--color", true}}));
  if (!args.ok()) return UsageError(args.error().message, kHistoryUsage);
  if (args->help()) {
    std::fputs(kHistoryUsage, stdout);
    return kExitOk;
  }
  if (args->positionals().size() != 1) {
    return UsageError("history takes exactly one KEY_ID", kHistoryUsage);
  }
  const std::string key_id = args->positionals().front();
  auto target = StoreTargetFrom(*args);
  if (!target.ok()) return UsageError(target.error().message, kHistoryUsage);
  const std::string format = args->Get("--format").value_or(IsTty(stdout) ? "table" : "jsonl");
  if (format != "table" && format != "jsonl" && format != "json") {
    return UsageError("--format must be table, jsonl or json", kHistoryUsage);
  }
  auto style = StyleFor(*args, stdout);
  if (!style.ok()) return UsageError(style.error().message, kHistoryUsage);

  auto opened =
      OpenTarget(*target, Access::kRead, /*check_head=*/false, StderrSink("keyledger-audit"));
  if (!opened.ok()) return Fail(kExitError, opened.error().message);
  projections::KeyHistoryOptions options;
  options.include_health_reports = !args->Has("--no-health-reports");
  auto history = projections::BuildKeyHistory((*opened)->log(), key_id, options);
  if (!history.ok()) {
    return Fail(history.error().code == ErrorCode::kNotFound ? kExitCheckFailed : kExitError,
                history.error().message);
  }

  if (format == "json") {
    json::Writer w;
    projections::WriteKeyHistoryJson(w, *history);
    std::printf("%s\n", w.str().c_str());
  } else if (format == "jsonl") {
    for (const projections::KeyHistoryEntry& e : history->entries) {
      json::Writer w;
      projections::WriteKeyHistoryEntryJson(w, e);
      std::printf("%s\n", w.str().c_str());
    }
  } else {
    const Style& s = *style;
    std::printf("key %s  provider %s  %s  %s events\n", s.Bold(Printable(key_id)).c_str(),
                Printable(history->provider_id).c_str(),
                history->deleted ? s.Red("deleted").c_str() : s.Green("active").c_str(),
                FormatCount(history->stream_version).c_str());
    Table table({"SEQ", "TIME", "EVENT", "ACTOR", "CLIENT IP", "DETAILS"});
    EventSummarizer summarizer;
    for (const projections::KeyHistoryEntry& e : history->entries) {
      std::vector<std::string> notes;
      for (const projections::FieldChange& c : e.changes) {
        notes.push_back(c.field + ": " + c.before + " -> " + c.after);
      }
      table.AddRow({{std::to_string(e.record.sequence), ""},
                    {events::FormatTimestampZ(e.record.time_us), "2"},
                    {std::string(events::EventTypeName(e.record.type)),
                     std::string(EventColor(e.record.type))},
                    {e.record.metadata.actor, ""},
                    {e.record.metadata.client_ip, ""},
                    {summarizer.Summary(e.record, e.event), ""}},
                   std::move(notes));
    }
    table.Print(stdout, s);
  }
  if (std::fflush(stdout) != 0) return Fail(kExitError, "cannot write the output");
  return kExitOk;
}

}  // namespace keyledger::tools::audit
