#include <gtest/gtest.h>

#include "events/append_planner.hpp"
#include "events/record.hpp"
#include "tests/support/test_support.hpp"

namespace keyledger::events {
namespace {

EventRecord Sample(uint64_t seq, const Hash& prev) {
  EventRecord r;
  r.sequence = seq;
  r.stream = "key-3f1c";
  r.stream_version = 2;
  r.type = EventType::kKeyRevealed;
  r.schema_version = 1;
  r.time_us = 1'768'280'000'123'456;
  r.metadata = {"ops", "10.0.0.7", "req-42", std::string("incident 7")};
  r.payload = R"({"key_id":"3f1c","reason":"rotate"})";
  r.prev_hash = prev;
  r.hash = ComputeHash(r);
  return r;
}

TEST(RecordTest, EncodeDecodeRoundTrip) {
  EventRecord r = Sample(1, GenesisHash());
  ASSERT_OK_AND_ASSIGN(EventRecord back, DecodeRecord(EncodeRecord(r)));
  EXPECT_EQ(back, r);
  EXPECT_TRUE(VerifyRecordHash(back));
  r.metadata.reason.reset();
  r.hash = ComputeHash(r);
  ASSERT_OK_AND_ASSIGN(EventRecord no_reason, DecodeRecord(EncodeRecord(r)));
  EXPECT_FALSE(no_reason.metadata.reason.has_value());
}

TEST(RecordTest, AbsentAndEmptyReasonHashDifferently) {
  EventRecord a = Sample(1, GenesisHash());
  a.metadata.reason.reset();
  EventRecord b = a;
  b.metadata.reason = std::string();
  EXPECT_NE(ComputeHash(a), ComputeHash(b));
}

TEST(RecordTest, EveryTruncationIsACorruptionErrorNotACrash) {
  std::string bytes = EncodeRecord(Sample(1, GenesisHash()));
  for (size_t n = 0; n < bytes.size(); ++n) {
    auto r = DecodeRecord(std::string_view(bytes).substr(0, n));
    ASSERT_FALSE(r.ok()) << n;
    EXPECT_EQ(r.error().code, ErrorCode::kCorruption);
  }
  auto trailing = DecodeRecord(bytes + "x");
  ASSERT_FALSE(trailing.ok());
}

// A flipped bit at any position of a stored record is caught by the chain check of that record.
TEST(RecordTest, ChainVerifierCatchesAFlipAtEveryBytePosition) {
  EventRecord r1 = Sample(1, GenesisHash());
  EventRecord r2 = Sample(2, r1.hash);
  const std::string v2 = EncodeRecord(r2);
  for (size_t pos = 0; pos < v2.size(); ++pos) {
    for (int mask : {0x01, 0x80}) {
      std::string bad = v2;
      bad[pos] = static_cast<char>(bad[pos] ^ mask);
      ChainVerifier v(1, GenesisHash());
      ASSERT_TRUE(v.Next(1, EncodeRecord(r1)));
      EXPECT_FALSE(v.Next(2, bad)) << "position " << pos;
      EXPECT_EQ(v.report().first_bad, 2u) << "position " << pos;
    }
  }
}

TEST(RecordTest, KeysSortNumerically) {
  EXPECT_LT(SequenceKey(255), SequenceKey(256));
  EXPECT_LT(SequenceKey(1), SequenceKey(1ull << 40));
  EXPECT_LT(StreamKey("key-a", 9), StreamKey("key-a", 10));
  // Every version of "key-a" sorts before any version of "key-ab".
  EXPECT_LT(StreamKey("key-a", UINT64_MAX), StreamKey("key-ab", 0));
}

TEST(RecordTest, StreamIdAndMetadataValidation) {
  EXPECT_TRUE(ValidateStreamId("key-3f1c0a2e-1b2c-4d5e-8f90-0123456789ab").ok());
  EXPECT_TRUE(ValidateStreamId("keyring").ok());
  EXPECT_FALSE(ValidateStreamId("").ok());
  EXPECT_FALSE(ValidateStreamId("key/a").ok());
  EXPECT_FALSE(ValidateStreamId(std::string(kMaxStreamIdBytes + 1, 'a')).ok());
  EXPECT_TRUE(ValidateMetadata({"名字", "::1", "r", std::string("原因")}).ok());
  EXPECT_FALSE(ValidateMetadata({"\xC3", "", "", std::nullopt}).ok());
  EXPECT_FALSE(ValidateMetadata({"", "", "", std::string(kMaxReasonBytes + 1, 'x')}).ok());
}

TEST(RecordTest, EventTypeNamesRoundTrip) {
  for (auto t : {EventType::kProviderCreated, EventType::kProviderCredentialsRevealed,
                 EventType::kEndpointCredentialsRevealed, EventType::kKeyCreated,
                 EventType::kKeyRevealed, EventType::kMasterKeyRotated}) {
    EXPECT_EQ(EventTypeFromName(EventTypeName(t)), t);
    EXPECT_TRUE(IsKnownEventType(static_cast<uint16_t>(t)));
  }
  // (4 was the unknown number here until it became ProviderCredentialsRevealed.)
  EXPECT_FALSE(IsKnownEventType(999));
  EXPECT_EQ(EventTypeName(static_cast<EventType>(999)), "Unknown");
  // Stored numbers are part of the on-disk format and never change.
  EXPECT_EQ(static_cast<uint16_t>(EventType::kKeyCreated), 200);
  EXPECT_EQ(static_cast<uint16_t>(EventType::kMasterKeyRotated), 300);
  EXPECT_EQ(static_cast<uint16_t>(EventType::kKeyAdaptiveModeChanged), 206);
  EXPECT_EQ(static_cast<uint16_t>(EventType::kKeyRpmLimitSet), 207);
  EXPECT_EQ(static_cast<uint16_t>(EventType::kKeyLearningReset), 208);
  for (auto t : {EventType::kKeyAdaptiveModeChanged, EventType::kKeyRpmLimitSet,
                 EventType::kKeyLearningReset}) {
    EXPECT_EQ(EventTypeFromName(EventTypeName(t)), t);
  }
  EXPECT_EQ(static_cast<uint16_t>(EventType::kSystemConfigSet), 400);
  EXPECT_EQ(EventTypeName(EventType::kSystemConfigSet), "SystemConfigSet");
  EXPECT_EQ(EventTypeFromName("SystemConfigSet"), EventType::kSystemConfigSet);
  EXPECT_EQ(static_cast<uint16_t>(EventType::kProviderCredentialsRevealed), 4);
  EXPECT_EQ(static_cast<uint16_t>(EventType::kEndpointCredentialsRevealed), 103);
}

}  // namespace
}  // namespace keyledger::events
