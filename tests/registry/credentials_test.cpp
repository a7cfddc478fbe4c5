// Credentials in endpoint headers and provider/endpoint config (events/FORMAT.md "Credentials in
// headers and config"): sealed with the key secrets' envelope, shown as masks, kept when a client
// sends the mask back, shredded when replaced or deleted, revealed only through the audited
// reveal commands; events of schema version 1 (plaintext) still fold as before.
#include <gtest/gtest.h>

#include "events/secret_names.hpp"
#include "projections/credentials.hpp"
#include "projections/fold.hpp"
#include "projections/snapshot.hpp"
#include "projections/views.hpp"
#include "src/command_support.hpp"
#include "tests/registry/registry_harness.hpp"

namespace keyledger::registry {
namespace {

using projections::RawJson;
using testing::Harness;

constexpr const char* kHeaderSecret = "hdr-CANARY-0123456789abcdefghij-wxyz";
constexpr const char* kBearer = "Bearer tok-CANARY-0123456789abcdefghij";
constexpr const char* kConfigSecret = "cfg-CANARY-0123456789abcdefghij-wxyz";
constexpr const char* kProviderSecret = "prov-CANARY-0123456789abcdefghij";

std::string AllEventBytes(events::EventLog& log) {
  std::string all;
  auto records = log.ReadRange(1, 1'000'000);
  EXPECT_TRUE(records.ok());
  for (const auto& r : *records) all += r.payload;
  return all;
}

std::vector<events::EventRecord> AllEvents(events::EventLog& log) {
  auto records = log.ReadRange(1, 1'000'000);
  EXPECT_TRUE(records.ok());
  return records.ok() ? *records : std::vector<events::EventRecord>{};
}

EndpointCreateIntent EndpointIntent(const std::string& pid) {
  EndpointCreateIntent ep;
  ep.provider_id = pid;
  ep.body_provider_id = pid;
  ep.endpoint.api_format = "CLAUDE";
  ep.endpoint.base_url = "https://api.anthropic.com";
  ep.endpoint.headers = projections::OrderedMap<std::string>{
      {"X-Api-Key", kHeaderSecret}, {"authorization", kBearer}, {"x-trace", "visible"}};
  ep.endpoint.config = RawJson{std::string(R"({"max_tokens":4096,"nested":{"deep":[{"apiKey":")") +
                               kConfigSecret + R"("}]},"empty_token":""})"};
  return ep;
}

TEST(CredentialsTest, EndpointHeadersAndConfigAreSealedMaskedRevealedAndShredded) {
  Harness h;
  const std::string pid = h.CreateProvider("sealed");
  ASSERT_OK_AND_ASSIGN(auto created, h.Run(MakeCreateEndpoint(EndpointIntent(pid))));
  const std::string eid = created.body.substr(7, 36);
  const std::string header_mask = events::MaskSecret(kHeaderSecret);
  EXPECT_NE(created.body.find("\"X-Api-Key\":\"" + header_mask + "\""), std::string::npos)
      << created.body;
  EXPECT_NE(created.body.find("\"x-trace\":\"visible\""), std::string::npos);
  EXPECT_NE(created.body.find("\"max_tokens\":4096"), std::string::npos);   // a number: kept
  EXPECT_NE(created.body.find("\"empty_token\":\"\""), std::string::npos);  // nothing to seal
  for (const char* s : {kHeaderSecret, kBearer, "tok-CANARY", kConfigSecret}) {
    EXPECT_EQ(created.body.find(s), std::string::npos) << s;
    EXPECT_EQ(AllEventBytes(h.log()).find(s), std::string::npos) << s;
  }
  auto state = h.registry().Current();
  const projections::EndpointState e = *state->endpoints.Find(eid);
  ASSERT_EQ(e.header_secrets.size(), 2u);
  EXPECT_EQ(e.header_secrets[0].first, "X-Api-Key");
  EXPECT_EQ(e.header_secrets[1].first, "authorization");
  ASSERT_EQ(e.config_secrets.size(), 1u);
  EXPECT_EQ(e.config_secrets[0].first, "/nested/deep/0/apiKey");
  // The created event is schema version 2.
  const auto records = AllEvents(h.log());
  EXPECT_EQ(records.back().type, events::EventType::kEndpointCreated);
  EXPECT_EQ(records.back().schema_version, 2);

  // Reveal: the real values, one audit event naming what was revealed (never the values).
  RequestContext why = Harness::Admin();
  why.reason = "incident 42";
  ASSERT_OK_AND_ASSIGN(auto revealed, h.Run(MakeRevealEndpointCredentials(eid), why));
  EXPECT_NE(revealed.body.find(std::string("\"X-Api-Key\":\"") + kHeaderSecret + "\""),
            std::string::npos)
      << revealed.body;
  EXPECT_NE(revealed.body.find(std::string("\"authorization\":\"") + kBearer + "\""),
            std::string::npos);
  EXPECT_NE(revealed.body.find(std::string("{\"apiKey\":\"") + kConfigSecret + "\"}"),
            std::string::npos);
  const events::EventRecord reveal = AllEvents(h.log()).back();
  EXPECT_EQ(reveal.type, events::EventType::kEndpointCredentialsRevealed);
  EXPECT_EQ(reveal.metadata.reason, "incident 42");
  EXPECT_NE(reveal.payload.find("\"/headers/X-Api-Key\""), std::string::npos) << reveal.payload;
  EXPECT_NE(reveal.payload.find("\"/config/nested/deep/0/apiKey\""), std::string::npos);
  EXPECT_EQ(reveal.payload.find("CANARY"), std::string::npos);
  EXPECT_EQ(h.registry().Current()->endpoints.Find(eid)->version, e.version);  // not a change

  // A PUT that sends the masks back keeps the sealed values (same data keys, nothing shredded).
  EndpointUpdateIntent same;
  same.endpoint_id = eid;
  same.fields = {"headers", "config"};
  same.values.headers =
      projections::OrderedMap<std::string>{{"X-Api-Key", header_mask},
                                           {"authorization", events::MaskSecret(kBearer)},
                                           {"x-trace", "visible"}};
  same.values.config = RawJson{projections::ShownConfig(*e.config, e.config_secrets)};
  ASSERT_OK_AND_ASSIGN(auto kept, h.Run(MakeUpdateEndpoint(same)));
  const projections::EndpointState after_keep = *h.registry().Current()->endpoints.Find(eid);
  EXPECT_EQ(after_keep.header_secrets, e.header_secrets);
  EXPECT_EQ(after_keep.config_secrets, e.config_secrets);
  EXPECT_TRUE(h.keyring()
                  .Open(e.header_secrets[0].second.sealed,
                        HeaderSecretOwner("endpoint-" + eid, "X-Api-Key"),
                        e.header_secrets[0].second.version)
                  .ok());

  // A new value is sealed under a new data key; the old one is shredded. A header removed
  // (authorization) is shredded too.
  EndpointUpdateIntent replace;
  replace.endpoint_id = eid;
  replace.fields = {"headers"};
  replace.values.headers =
      projections::OrderedMap<std::string>{{"X-Api-Key", "new-header-value-123"}};
  ASSERT_OK_AND_ASSIGN(auto replaced, h.Run(MakeUpdateEndpoint(replace)));
  const projections::EndpointState after_replace = *h.registry().Current()->endpoints.Find(eid);
  ASSERT_EQ(after_replace.header_secrets.size(), 1u);
  EXPECT_NE(after_replace.header_secrets[0].second.sealed.dek_id,
            e.header_secrets[0].second.sealed.dek_id);
  for (const auto& [name, old] : e.header_secrets) {
    EXPECT_EQ(h.keyring()
                  .Open(old.sealed, HeaderSecretOwner("endpoint-" + eid, name), old.version)
                  .error()
                  .code,
              ErrorCode::kShredded)
        << name;
  }
  EXPECT_EQ(after_replace.config_secrets, e.config_secrets);  // config untouched
  ASSERT_OK_AND_ASSIGN(auto revealed_new, h.Run(MakeRevealEndpointCredentials(eid)));
  EXPECT_NE(revealed_new.body.find("new-header-value-123"), std::string::npos);

  // Deleting the endpoint shreds everything it still holds.
  ASSERT_OK(h.Run(MakeDeleteEndpoint(eid)).status());
  for (const auto& [pointer, s] : after_replace.config_secrets) {
    EXPECT_EQ(h.keyring()
                  .Open(s.sealed, ConfigSecretOwner("endpoint-" + eid, pointer), s.version)
                  .error()
                  .code,
              ErrorCode::kShredded);
  }
  const auto& hs = after_replace.header_secrets[0];
  EXPECT_EQ(
      h.keyring()
          .Open(hs.second.sealed, HeaderSecretOwner("endpoint-" + eid, hs.first), hs.second.version)
          .error()
          .code,
      ErrorCode::kShredded);
}

TEST(CredentialsTest, ProviderConfigAndOperatorNamesAreSealedAndShreddedWithTheProvider) {
  RegistryOptions options;
  options.secret_names = events::SecretNames::FromList(" X-Tenant , org_seat");
  options.require_reveal_reason = true;
  Harness h(Harness::Store::kMemory, options);
  ProviderCreateIntent in;
  in.provider.name = "configured";
  in.provider.config = RawJson{std::string(R"({"API_KEY":")") + kProviderSecret +
                               R"(","org_seat":"seat-1234567890","region":"eu"})"};
  ASSERT_OK_AND_ASSIGN(auto created, h.Run(MakeCreateProvider(in)));
  const std::string pid = created.body.substr(7, 36);
  const projections::ProviderState p = *h.registry().Current()->providers.Find(pid);
  ASSERT_EQ(p.config_secrets.size(), 2u);
  EXPECT_EQ(p.config_secrets[1].first, "/org_seat");
  EXPECT_EQ(p.config->text, "{\"API_KEY\":\"" + events::MaskSecret(kProviderSecret) +
                                "\",\"org_seat\":\"" + events::MaskSecret("seat-1234567890") +
                                "\",\"region\":\"eu\"}");
  EXPECT_EQ(AllEventBytes(h.log()).find(kProviderSecret), std::string::npos);
  EXPECT_EQ(AllEventBytes(h.log()).find("seat-1234567890"), std::string::npos);

  // --require-reveal-reason holds for these reveals too.
  auto refused = h.Run(MakeRevealProviderCredentials(pid));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument);
  RequestContext why = Harness::Admin();
  why.reason = "rotation";
  ASSERT_OK_AND_ASSIGN(auto revealed, h.Run(MakeRevealProviderCredentials(pid), why));
  EXPECT_EQ(revealed.body, "{\"provider_id\":\"" + pid + "\",\"config\":{\"API_KEY\":\"" +
                               kProviderSecret +
                               "\",\"org_seat\":\"seat-1234567890\",\"region\":\"eu\"}}");

  // Replacing the config (PUT) shreds the values not sent back as masks.
  ProviderUpdateIntent up;
  up.provider_id = pid;
  up.fields = {"config"};
  up.values.config =
      RawJson{"{\"API_KEY\":\"" + events::MaskSecret(kProviderSecret) + "\",\"region\":\"us\"}"};
  ASSERT_OK(h.Run(MakeUpdateProvider(up)).status());
  const projections::ProviderState after = *h.registry().Current()->providers.Find(pid);
  ASSERT_EQ(after.config_secrets.size(), 1u);
  EXPECT_EQ(after.config_secrets[0].second, p.config_secrets[0].second);
  EXPECT_EQ(h.keyring()
                .Open(p.config_secrets[1].second.sealed,
                      ConfigSecretOwner("provider-" + pid, "/org_seat"),
                      p.config_secrets[1].second.version)
                .error()
                .code,
            ErrorCode::kShredded);

  ASSERT_OK(h.Run(MakeDeleteProvider(pid)).status());
  EXPECT_EQ(
      h.keyring()
          .Open(p.config_secrets[0].second.sealed, ConfigSecretOwner("provider-" + pid, "/API_KEY"),
                p.config_secrets[0].second.version)
          .error()
          .code,
      ErrorCode::kShredded);
}

TEST(CredentialsTest, SchemaVersionOnePlaintextFoldsAsBeforeIsMaskedAndSealedOnResend) {
  Harness h;
  const std::string pid = h.CreateProvider("legacy");
  const std::string eid = "00000000-0000-4000-8000-000000000001";
  // What a build before sealing wrote: plaintext header and config, schema version 1.
  events::NewEvent legacy;
  legacy.type = events::EventType::kEndpointCreated;
  legacy.schema_version = 1;
  legacy.payload = "{\"endpoint\":{\"id\":\"" + eid + "\",\"provider_id\":\"" + pid +
                   "\",\"api_format\":\"CLAUDE\",\"base_url\":\"https://x\",\"custom_path\":null,"
                   "\"headers\":{\"x-api-key\":\"" +
                   kHeaderSecret +
                   "\",\"x-trace\":\"visible\"},\"timeout\":300,\"max_retries\":2,"
                   "\"is_active\":true,\"config\":{\"token\":\"" +
                   kConfigSecret + "\"},\"proxy\":null}}";
  ASSERT_OK(h.log().Append("endpoint-" + eid, 0, {legacy}).status());
  h.Reopen();
  auto state = h.registry().Current();
  const projections::EndpointState* e = state->endpoints.Find(eid);
  ASSERT_NE(e, nullptr);
  // The same state as before: plaintext, nothing sealed.
  EXPECT_EQ(projections::FindIn(*e->headers, "x-api-key") != nullptr &&
                *projections::FindIn(*e->headers, "x-api-key") == kHeaderSecret,
            true);
  EXPECT_TRUE(e->header_secrets.empty());
  EXPECT_EQ(e->config->text, std::string("{\"token\":\"") + kConfigSecret + "\"}");
  // Shown masked all the same.
  const std::string shown = projections::EndpointResponseJson(*state, *e);
  EXPECT_EQ(shown.find(kHeaderSecret), std::string::npos) << shown;
  EXPECT_EQ(shown.find(kConfigSecret), std::string::npos) << shown;
  EXPECT_NE(shown.find(events::MaskSecret(kHeaderSecret)), std::string::npos) << shown;
  // Reveal answers the plaintext it has.
  ASSERT_OK_AND_ASSIGN(auto revealed, h.Run(MakeRevealEndpointCredentials(eid)));
  EXPECT_NE(revealed.body.find(kHeaderSecret), std::string::npos);

  // An admin UI sends back what it was shown: the old plaintext gets sealed (new events carry
  // no plaintext); the old events stay as they are (operators rotate those credentials).
  const size_t events_before = AllEvents(h.log()).size();
  EndpointUpdateIntent resend;
  resend.endpoint_id = eid;
  resend.fields = {"headers", "config"};
  resend.values.headers = projections::OrderedMap<std::string>{
      {"x-api-key", events::MaskSecret(kHeaderSecret)}, {"x-trace", "visible"}};
  resend.values.config = RawJson{"{\"token\":\"" + events::MaskSecret(kConfigSecret) + "\"}"};
  ASSERT_OK(h.Run(MakeUpdateEndpoint(resend)).status());
  const auto records = AllEvents(h.log());
  for (size_t i = events_before; i < records.size(); ++i) {
    EXPECT_EQ(records[i].payload.find(kHeaderSecret), std::string::npos);
    EXPECT_EQ(records[i].payload.find(kConfigSecret), std::string::npos);
  }
  ASSERT_OK_AND_ASSIGN(auto revealed_after, h.Run(MakeRevealEndpointCredentials(eid)));
  EXPECT_NE(revealed_after.body.find(kHeaderSecret), std::string::npos) << revealed_after.body;
  EXPECT_NE(revealed_after.body.find(kConfigSecret), std::string::npos) << revealed_after.body;
  EXPECT_EQ(h.registry().Current()->endpoints.Find(eid)->header_secrets.size(), 1u);
}

TEST(CredentialsTest, NameRuleIsCaseInsensitiveAndOperatorNamesAreWholeNames) {
  for (const char* name :
       {"Authorization", "proxy-authorization", "X-API-KEY", "api_key", "apikey", "openaiApiKey",
        "refresh_token", "client_secret", "db_password", "Cookie", "aws-credentials"}) {
    EXPECT_TRUE(events::IsSecretMemberName(name)) << name;
  }
  for (const char* name : {"anthropic-version", "x-trace", "region", "content-type"}) {
    EXPECT_FALSE(events::IsSecretMemberName(name)) << name;
  }
  const auto names = events::SecretNames::FromList(" X-Tenant ,,org_seat");
  EXPECT_EQ(names.extra(), (std::vector<std::string>{"x-tenant", "org_seat"}));
  EXPECT_TRUE(names.Matches("x-TENANT"));
  EXPECT_FALSE(names.Matches("x-tenant-id"));
  EXPECT_TRUE(names.Matches("x-auth-token"));
}

TEST(CredentialsTest, SnapshotsRoundTripSealedCredentials) {
  Harness h(Harness::Store::kRocks);
  const std::string pid = h.CreateProvider("snap");
  ASSERT_OK_AND_ASSIGN(auto created, h.Run(MakeCreateEndpoint(EndpointIntent(pid))));
  const std::string eid = created.body.substr(7, 36);
  const projections::EndpointState before = *h.registry().Current()->endpoints.Find(eid);
  const std::string digest = projections::StateDigestHex(*h.registry().Current());
  h.Reopen();  // Close wrote a snapshot (format 2); Open loads it
  for (const std::string& line : h.log_lines()) {
    EXPECT_EQ(line.find("ignoring snapshot"), std::string::npos) << line;
  }
  EXPECT_EQ(*h.registry().Current()->endpoints.Find(eid), before);
  EXPECT_EQ(projections::StateDigestHex(*h.registry().Current()), digest);
}

TEST(CredentialsTest, NewerSchemaVersionIsRefusedNamingTypeAndVersion) {
  projections::Folder folder;
  projections::State s;
  events::EventRecord r;
  r.sequence = 7;
  r.type = events::EventType::kEndpointUpdated;
  r.schema_version = 3;
  r.payload = "{}";
  Status st = folder.Apply(s, r);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, ErrorCode::kUnsupported);
  EXPECT_EQ(st.error().message,
            "event 7 (EndpointUpdated) has schema version 3, unknown to this build (it reads "
            "EndpointUpdated up to version 2)");
  // Version 2 is only known for the four types whose payloads changed.
  r.type = events::EventType::kKeyCreated;
  r.schema_version = 2;
  EXPECT_EQ(folder.Apply(s, r).error().code, ErrorCode::kUnsupported);
}

}  // namespace
}  // namespace keyledger::registry
