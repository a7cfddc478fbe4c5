#pragma once
// The compatibility corpus (tests/compat/README.md): loading an exported log and the text of
// every read view over its folded state, which the golden files hold byte for byte.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "events/memory_event_log.hpp"
#include "events/record.hpp"
#include "events/status.hpp"
#include "projections/state.hpp"

namespace keyledger::compat {

// An export (keyledger-audit export, format 1) re-appended into a fresh in-memory log, record by
// record with its own stream version, time and metadata, checking that every record reproduces
// its exported sequence and hash (so the chain, and every payload byte, is what was exported).
struct LoadedCorpus {
  std::unique_ptr<events::MemoryEventLog> log;
  std::vector<events::EventRecord> records;
};
Result<LoadedCorpus> LoadExport(std::string_view jsonl);

// Every view the corpus goldens hold, as "# <name>\n<json>\n" sections in a fixed order: the
// state digest with its entities, the provider, endpoint and key views of the admin API, the
// health, RPM and adaptive views (computed at the state's own time), the system configs, every
// event as the audit feed shows it, and the history of every key stream (deleted keys too).
Result<std::string> CorpusViews(const projections::State& state, const events::EventReader& log,
                                const std::vector<events::EventRecord>& records);

// Reads a whole file; kNotFound when it cannot be opened.
Result<std::string> ReadFileText(const std::string& path);

}  // namespace keyledger::compat
