// The compatibility corpus (tests/compat/README.md): every committed log is imported, folded,
// and its digest and views compared byte for byte with the golden output stored beside it.
// A change that breaks reading an old event, or changes what an old log means, fails here.
#include <gtest/gtest.h>

#include <filesystem>

#include "projections/fold.hpp"
#include "projections/snapshot.hpp"
#include "tests/compat/corpus_views.hpp"
#include "tests/support/test_support.hpp"

namespace keyledger::compat {
namespace {

namespace fs = std::filesystem;

std::vector<fs::path> Corpora() {
  std::vector<fs::path> dirs;
  for (const auto& entry : fs::directory_iterator(KEYLEDGER_COMPAT_DIR)) {
    if (entry.is_directory() && fs::exists(entry.path() / "events.jsonl")) {
      dirs.push_back(entry.path());
    }
  }
  std::sort(dirs.begin(), dirs.end());
  return dirs;
}

// The first "# name" section where two view texts differ, for a readable failure.
std::string FirstDifference(const std::string& expected, const std::string& actual) {
  std::istringstream a(expected), b(actual);
  std::string la, lb, section;
  while (true) {
    const bool more_a = static_cast<bool>(std::getline(a, la));
    const bool more_b = static_cast<bool>(std::getline(b, lb));
    if (!more_a && !more_b) return "";
    if (more_a && la.starts_with("# ")) section = la;
    if (la != lb || more_a != more_b) {
      return "first difference in section \"" + section + "\"\n  golden: " + la +
             "\n  now:    " + lb;
    }
  }
}

// What this build makes of one corpus directory.
struct Folded {
  projections::State state;
  std::string views;
};

void FoldCorpus(const fs::path& dir, Folded& out) {
  ASSERT_OK_AND_ASSIGN(std::string jsonl, ReadFileText((dir / "events.jsonl").string()));
  ASSERT_OK_AND_ASSIGN(LoadedCorpus corpus, LoadExport(jsonl));
  ASSERT_FALSE(corpus.records.empty());
  // The fold, record by record (as keyledger-audit import does) ...
  projections::Folder folder;
  for (const events::EventRecord& r : corpus.records) {
    Status folded = folder.Apply(out.state, r);
    ASSERT_TRUE(folded.ok()) << "event " << r.sequence << ": " << folded.ToString();
  }
  // ... and a replay from the log (as keyledgerd and keyledger-rebuild do) agree.
  projections::State replayed;
  ASSERT_OK(projections::Replay(*corpus.log, replayed, corpus.log->GetHead().sequence));
  EXPECT_EQ(projections::StateDigestHex(replayed), projections::StateDigestHex(out.state));
  // A snapshot of it reads back to the same state.
  ASSERT_OK_AND_ASSIGN(projections::State back,
                       projections::DeserializeState(projections::SerializeState(out.state)));
  EXPECT_EQ(projections::StateDigestHex(back), projections::StateDigestHex(out.state));
  ASSERT_OK_AND_ASSIGN(out.views, CorpusViews(out.state, *corpus.log, corpus.records));
}

TEST(CompatCorpusTest, EveryCommittedLogFoldsToItsGoldenDigestAndViews) {
  const std::vector<fs::path> corpora = Corpora();
  // The corpora committed with the typed events; more are only ever added.
  ASSERT_GE(corpora.size(), 3u) << KEYLEDGER_COMPAT_DIR;
  for (const fs::path& dir : corpora) {
    SCOPED_TRACE(dir.filename().string());
    Folded folded;
    ASSERT_NO_FATAL_FAILURE(FoldCorpus(dir, folded));
    ASSERT_OK_AND_ASSIGN(std::string golden, ReadFileText((dir / "golden.txt").string()));
    EXPECT_EQ(golden.size(), folded.views.size());
    EXPECT_TRUE(golden == folded.views) << FirstDifference(golden, folded.views);
    // The digest line of the golden is the state digest this build computes.
    EXPECT_NE(golden.find("\"digest\":\"" + projections::StateDigestHex(folded.state) + "\""),
              std::string::npos);
  }
}

}  // namespace
}  // namespace keyledger::compat
