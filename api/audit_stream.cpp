#include "api/audit_stream.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "api/auth.hpp"
#include "events/json_writer.hpp"
#include "projections/audit.hpp"

namespace keyledger::api {

// Delivers committed events to SSE subscribers, in order, from the worker pool. Commit
// notifications come from the registry's writer thread and only schedule work.
class StreamHub {
 public:
  explicit StreamHub(AdminApi::Impl& api) : core_(std::make_shared<Core>(api)) {
    std::weak_ptr<Core> weak = core_;
    api.registry.AddCommitListener([weak](uint64_t, uint64_t) {
      if (auto core = weak.lock()) core->Schedule(core);
    });
  }

  // Who a stream was opened for: checked again before every delivery and after every tokens
  // reload (Authenticator::Recheck), so a stream ends with its token.
  struct Credentials {
    std::string authorization;
    std::string client_ip;
  };

  // True when one more stream may open (at most AdminApiOptions::max_streams at once).
  bool HasRoom() {
    std::lock_guard lock(core_->mu);
    std::erase_if(core_->subs, [](const Sub& s) { return !s.stream->IsOpen(); });
    return core_->subs.size() < core_->api.options.max_streams;
  }

  // Starts delivering events after `after` (clamped to the last max_stream_backlog events).
  void Add(std::shared_ptr<EventStream> stream, uint64_t after, Credentials credentials) {
    const uint64_t head = core_->api.log.GetHead().sequence;
    const uint64_t backlog = core_->api.options.max_stream_backlog;
    after = std::min(after, head);
    if (head - after > backlog) after = head - backlog;
    {
      std::lock_guard lock(core_->mu);
      core_->subs.push_back({std::move(stream), after, std::move(credentials)});
    }
    core_->Schedule(core_);
  }

  // The tokens file was reloaded: check every open stream's token now, events or not.
  void Recheck() { core_->Schedule(core_); }

  size_t open_streams() {
    std::lock_guard lock(core_->mu);
    return core_->subs.size();
  }

  void Shutdown() {
    std::vector<Sub> subs;
    {
      std::lock_guard lock(core_->mu);
      core_->stopped = true;
      subs.swap(core_->subs);
    }
    for (auto& s : subs) s.stream->Close();
  }

 private:
  struct Sub {
    std::shared_ptr<EventStream> stream;
    uint64_t cursor;  // last sequence delivered
    Credentials credentials;
  };
  struct Core {
    explicit Core(AdminApi::Impl& a) : api(a) {}
    AdminApi::Impl& api;
    std::mutex mu;  // subs, stopped, scheduled
    std::vector<Sub> subs;
    bool stopped = false;
    bool scheduled = false;
    std::mutex fanout_mu;  // one fan-out at a time, so each stream gets events in order

    void Schedule(const std::shared_ptr<Core>& self) {
      {
        std::lock_guard lock(mu);
        if (stopped || scheduled) return;
        scheduled = true;
      }
      std::weak_ptr<Core> weak = self;
      api.workers.Post([weak] {
        if (auto core = weak.lock()) core->FanOut();
      });
    }

    void FanOut() {
      std::lock_guard serial(fanout_mu);
      constexpr size_t kBatch = 1000;
      while (true) {
        std::vector<Sub> batch;
        {
          std::lock_guard lock(mu);
          scheduled = false;
          if (stopped) return;
          std::erase_if(subs, [](const Sub& s) { return !s.stream->IsOpen(); });
          batch = subs;
        }
        std::erase_if(batch, [this](const Sub& s) { return EndIfRevoked(s); });
        if (batch.empty()) return;
        uint64_t from = UINT64_MAX;
        for (const Sub& s : batch) from = std::min(from, s.cursor);
        auto records = api.log.ReadRange(from + 1, kBatch);
        if (!records.ok() || records->empty()) return;
        for (Sub& s : batch) {
          for (const events::EventRecord& r : *records) {
            if (r.sequence <= s.cursor) continue;
            if (!s.stream->Send(events::EventTypeName(r.type), projections::EventJson(r),
                                std::to_string(r.sequence))) {
              break;
            }
            s.cursor = r.sequence;
          }
        }
        {
          std::lock_guard lock(mu);
          for (Sub& live : subs) {
            for (const Sub& s : batch) {
              if (live.stream == s.stream) live.cursor = std::max(live.cursor, s.cursor);
            }
          }
        }
        if (records->size() < kBatch) return;
      }
    }

    // Ends a stream whose token no longer grants the auditor role (revoked, expired, narrowed),
    // with a last event saying why. True when it did.
    bool EndIfRevoked(const Sub& s) {
      if (api.options.authenticator == nullptr) return false;
      const std::string_view reason = api.options.authenticator->Recheck(
          s.credentials.authorization, s.credentials.client_ip, Access::kAuditor);
      if (reason.empty()) return false;
      json::Writer w;
      w.BeginObject()
          .Member("reason", reason)
          .Member("message", "the stream's token is no longer valid for this route")
          .EndObject();
      s.stream->Send("stream-closed", w.str());
      s.stream->Close();
      api.logger.Log(LogLevel::kInfo, "audit stream closed: its token is no longer valid",
                     {{"reason", reason}, {"client_ip", s.credentials.client_ip}});
      return true;
    }
  };

  std::shared_ptr<Core> core_;
};

void ShutdownStreams(AdminApi::Impl& api) {
  if (api.hub) api.hub->Shutdown();
}

void RecheckStreams(AdminApi::Impl& api) {
  if (api.hub) api.hub->Recheck();
}

Status RegisterAuditStreamRoute(Router& router, AdminApi::Impl& api) {
  api.hub = std::make_shared<StreamHub>(api);
  return router.Add(
      {.method = "GET",
       .pattern = "/api/admin/audit/stream",
       .access = Access::kAuditor,
       .summary = "Server-Sent Events: every event as it commits (resume with ?after= or "
                  "Last-Event-ID)",
       .tag = "Audit",
       .query_params = {{"after", "Replay events after this sequence first",
                         R"({"type":"integer","minimum":0})", false}},
       .streaming = true,
       .handler = [&api](const RequestPtr& req, Responder respond) {
         registry::QueryParams q = QueryOf(*req);
         registry::QueryReader reader(q);
         std::optional<int64_t> after =
             reader.OptionalInt("after", registry::IntRange{0, INT64_MAX});
         if (Status s = reader.Finish(); !s.ok()) return respond(ErrorResponse(s.error()));
         uint64_t from = api.log.GetHead().sequence;
         if (after) from = static_cast<uint64_t>(*after);
         if (auto last = req->Header("last-event-id")) {
           uint64_t v = 0;
           auto [p, ec] = std::from_chars(last->data(), last->data() + last->size(), v);
           if (ec == std::errc() && p == last->data() + last->size()) from = v;
         }
         if (!api.hub->HasRoom()) {
           return respond(ErrorResponse(
               MakeError(ErrorCode::kRateLimited, "too many open audit streams (at most " +
                                                      std::to_string(api.options.max_streams) +
                                                      "); retry later")));
         }
         auto stream = respond.StartEventStream({{"Cache-Control", "no-store"}});
         if (!stream) return;
         api.hub->Add(std::move(stream), from,
                      {std::string(req->Header("authorization").value_or("")), req->client_ip});
       }});
}

}  // namespace keyledger::api
