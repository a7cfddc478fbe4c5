// Credentials outside the envelope (issue 13, item 3): endpoint headers and provider/endpoint
// config members that carry credentials are sealed like key secrets. A canary written through
// the real HTTP server must appear nowhere (data directory files, every response, the audit
// feeds, keyledger-audit's output, the server's logs) except in the admin reveal responses.

#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <sstream>

#include "tests/e2e/e2e_support.hpp"

namespace keyledger::e2e {
namespace {

class CredentialsE2eTest : public E2eTest {};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST_F(CredentialsE2eTest, HeaderAndConfigCanariesAbsentFromEveryDataFileResponseExportAndLog) {
  StartServer({"--secret-field-names", "X-Org-Seat, ignored-empty,,"});
  ASSERT_FALSE(HasFatalFailure());
  const std::string auditor_token = CreateToken("auditor-1", "auditor");
  Client admin = Admin();
  Client auditor = As(auditor_token);

  // Canaries: registered with the fixture, whose TearDown also scans stdout, stderr and every
  // file of the data directory (WAL and SSTs decoded) for them.
  const std::string header_canary = Secret("kl-canary-HEADER-" + NewSecret("h"));
  const std::string bearer_canary = Secret("kl-canary-BEARER-" + NewSecret("b"));
  const std::string seat_canary = Secret("kl-canary-SEAT-" + NewSecret("s"));
  const std::string config_canary = Secret("kl-canary-ENDPOINTCFG-" + NewSecret("c"));
  const std::string provider_canary = Secret("kl-canary-PROVIDERCFG-" + NewSecret("p"));
  const std::string replaced_canary = Secret("kl-canary-REPLACED-" + NewSecret("r"));

  // The SSE feed from the start, as an auditor sees it.
  SseReader stream;
  ASSERT_TRUE(stream.Open(port(), auditor_token, "/api/admin/audit/stream")) << stream.head();

  std::vector<std::pair<std::string, std::string>> bodies;  // what, body
  auto keep = [&](const std::string& what, const TestResponse& r) {
    bodies.emplace_back(what + " (" + std::to_string(r.status) + ")", r.body);
  };

  const std::string pid = CreateProvider(admin, "sealed-config",
                                         ",\"config\":{\"region\":\"eu\",\"auth\":{\"API_KEY\":" +
                                             Quote(provider_canary) + "},\"max_tokens\":4096}");
  ASSERT_FALSE(pid.empty());
  TestResponse created = admin.Post(
      std::string(kEndpointsBase) + "/providers/" + pid + "/endpoints",
      "{\"provider_id\":" + Quote(pid) +
          ",\"api_format\":\"CLAUDE\",\"base_url\":\"https://api.anthropic.com\","
          "\"headers\":{\"x-api-key\":" +
          Quote(header_canary) + ",\"Authorization\":" + Quote("Bearer " + bearer_canary) +
          ",\"x-org-seat\":" + Quote(seat_canary) +
          ",\"anthropic-version\":\"2023-06-01\"},"
          "\"config\":{\"retry\":{\"tokens\":[" +
          Quote(config_canary) + "]},\"note\":\"plain\"}}");
  ASSERT_EQ(created.status, 200) << created.body;
  keep("create endpoint", created);
  Json cj(created.body);
  const std::string eid = Str(cj.root(), "id").value_or("");
  ASSERT_FALSE(eid.empty());
  // Masks (Aether's rule) where the values were; everything else as given.
  Json headers(ToJson(cj["headers"]));
  EXPECT_EQ(Str(headers.root(), "anthropic-version").value_or(""), "2023-06-01");
  const std::string header_mask = Str(headers.root(), "x-api-key").value_or("");
  EXPECT_EQ(header_mask,
            header_canary.substr(0, 8) + "***" + header_canary.substr(header_canary.size() - 4));
  EXPECT_EQ(Str(headers.root(), "Authorization").value_or("").substr(0, 8), "Bearer k");
  EXPECT_NE(Str(headers.root(), "x-org-seat").value_or("").find("***"), std::string::npos);
  EXPECT_EQ(Str(cj["config"], "note").value_or(""), "plain");

  const std::string endpoint_path = std::string(kEndpointsBase) + "/" + eid;
  const auto key = CreateKey(admin, pid, R"(["CLAUDE"])", NewSecret("key"), "main");
  keep("create key", TestResponse{200, {}, key.body});

  // An admin UI sends the endpoint back as shown: the masks keep the sealed values.
  TestResponse shown = admin.Get(endpoint_path);
  ASSERT_EQ(shown.status, 200);
  keep("get endpoint (admin)", shown);
  Json sj(shown.body);
  TestResponse resent = admin.Put(endpoint_path, "{\"headers\":" + ToJson(sj["headers"]) +
                                                     ",\"config\":" + ToJson(sj["config"]) + "}");
  ASSERT_EQ(resent.status, 200) << resent.body;
  keep("put endpoint with masks", resent);
  EXPECT_EQ(Json(resent.body)["headers"].get_object().value().size(), 4u);

  // Reveal: admin only, HEAD refused, recorded.
  const std::string reveal_path = endpoint_path + "/credentials/reveal";
  EXPECT_EQ(auditor.Get(reveal_path).status, 403);
  TestResponse head = admin.Call("HEAD", reveal_path);
  EXPECT_EQ(head.status, 405);
  keep("HEAD reveal", head);
  TestResponse revealed = admin.Get(reveal_path, {{"X-Audit-Reason", "rotate upstream"}});
  ASSERT_EQ(revealed.status, 200) << revealed.body;
  Json rj(revealed.body);
  EXPECT_EQ(Str(rj["headers"], "x-api-key").value_or(""), header_canary);
  EXPECT_EQ(Str(rj["headers"], "Authorization").value_or(""), "Bearer " + bearer_canary);
  EXPECT_EQ(Str(rj["headers"], "x-org-seat").value_or(""), seat_canary);
  EXPECT_EQ(Str(rj["headers"], "anthropic-version").value_or(""), "2023-06-01");
  EXPECT_EQ(ToJson(rj["config"]),
            "{\"retry\":{\"tokens\":[" + Quote(config_canary) + "]},\"note\":\"plain\"}");
  TestResponse provider_reveal = admin.Get(ProviderPath(pid) + "/credentials/reveal");
  ASSERT_EQ(provider_reveal.status, 200) << provider_reveal.body;
  EXPECT_EQ(ToJson(Json(provider_reveal.body)["config"]),
            "{\"region\":\"eu\",\"auth\":{\"API_KEY\":" + Quote(provider_canary) +
                "},\"max_tokens\":4096}");

  // Replacing a value seals the new one; the reveal shows it.
  TestResponse replaced =
      admin.Put(endpoint_path, "{\"headers\":{\"x-api-key\":" + Quote(replaced_canary) + "}}");
  ASSERT_EQ(replaced.status, 200) << replaced.body;
  keep("put endpoint with a new value", replaced);
  TestResponse revealed_again = admin.Get(reveal_path);
  ASSERT_EQ(revealed_again.status, 200);
  EXPECT_EQ(Str(Json(revealed_again.body)["headers"], "x-api-key").value_or(""), replaced_canary);

  // Every read an auditor or admin has.
  for (const std::string& path :
       {endpoint_path, std::string(kEndpointsBase) + "/providers/" + pid + "/endpoints",
        std::string(kProvidersPath), std::string("/api/admin/providers/summary"), ProviderPath(pid),
        std::string("/api/admin/audit/events?limit=1000"),
        std::string("/api/admin/audit/events?type=EndpointCredentialsRevealed"),
        KeyPath(key.id) + "/history", KeysOf(pid)}) {
    keep("GET " + path + " (auditor)", auditor.Get(path));
    keep("GET " + path + " (admin)", admin.Get(path));
  }
  TestResponse reveals = auditor.Get("/api/admin/audit/events?type=EndpointCredentialsRevealed");
  EXPECT_NE(reveals.body.find("\"reason\":\"rotate upstream\""), std::string::npos) << reveals.body;
  EXPECT_NE(reveals.body.find("\"/headers/x-api-key\""), std::string::npos) << reveals.body;
  EXPECT_NE(auditor.Get("/api/admin/audit/events?type=ProviderCredentialsRevealed")
                .body.find("\"/config/auth/API_KEY\""),
            std::string::npos);
  // The feed shows the sealed values as data-key id, length and mask.
  EXPECT_NE(auditor.Get("/api/admin/audit/events?type=EndpointCreated")
                .body.find("\"mask\":\"" + header_mask + "\""),
            std::string::npos);

  // Deleting the endpoint and the provider shreds their data keys: the reveal would now fail,
  // and the events record the deletes.
  ASSERT_EQ(admin.Delete(endpoint_path).status, 200);
  ASSERT_EQ(admin.Delete(ProviderPath(pid)).status, 200);
  ASSERT_TRUE(stream.WaitFor("event: ProviderDeleted", std::chrono::seconds(30))) << stream.body();
  bodies.emplace_back("SSE stream", stream.body());
  EXPECT_NE(stream.body().find("event: EndpointCredentialsRevealed"), std::string::npos);

  // keyledger-audit next to the running server: log (table and JSONL), export.
  const std::string export_file = scratch_dir_ + "/export.jsonl";
  ProcessResult exported = RunProcess(
      {AuditToolPath(), "export", "--data-dir", data_dir_, "--output", export_file}, scratch_dir_);
  EXPECT_EQ(exported.exit_code, 0) << exported.err;
  bodies.emplace_back("audit export file", ReadFile(export_file));
  bodies.emplace_back("audit export output", exported.out + exported.err);
  for (const std::string format : {"jsonl", "table"}) {
    ProcessResult log = RunProcess(
        {AuditToolPath(), "log", "--data-dir", data_dir_, "--format", format}, scratch_dir_);
    EXPECT_EQ(log.exit_code, 0) << log.err;
    // (The table truncates long type names.)
    EXPECT_NE(log.out.find("EndpointCredenti"), std::string::npos) << log.out;
    bodies.emplace_back("audit log " + format, log.out + log.err);
  }

  for (const auto& [what, body] : bodies) {
    for (const std::string& canary : secrets()) {
      EXPECT_EQ(body.find(canary), std::string::npos) << "canary in " << what << ": " << body;
    }
  }
  // The server's stderr log is scanned by TearDown (after a clean stop), with the data files.
}

TEST_F(CredentialsE2eTest, RevealHonoursRequireRevealReason) {
  StartServer({"--require-reveal-reason"});
  ASSERT_FALSE(HasFatalFailure());
  Client admin = Admin();
  const std::string canary = Secret("kl-canary-REASON-" + NewSecret("q"));
  const std::string pid =
      CreateProvider(admin, "reasoned", ",\"config\":{\"token\":" + Quote(canary) + "}");
  TestResponse refused = admin.Get(ProviderPath(pid) + "/credentials/reveal");
  EXPECT_EQ(refused.status, 400) << refused.body;
  EXPECT_EQ(refused.body.find(canary), std::string::npos);
  TestResponse ok =
      admin.Get(ProviderPath(pid) + "/credentials/reveal", {{"X-Audit-Reason", "incident 7"}});
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_NE(ok.body.find(canary), std::string::npos);
}

}  // namespace
}  // namespace keyledger::e2e
