#include "api/handler.hpp"

#include <atomic>

#include "api/errors.hpp"

namespace keyledger::api {

std::string_view AccessName(Access a) {
  switch (a) {
    case Access::kPublic:
      return "public";
    case Access::kAuditor:
      return "auditor";
    case Access::kAdmin:
      return "admin";
  }
  return "admin";
}

std::string_view RoleName(Role r) {
  switch (r) {
    case Role::kNone:
      return "none";
    case Role::kAuditor:
      return "auditor";
    case Role::kAdmin:
      return "admin";
  }
  return "none";
}

bool RoleAllows(Role role, Access access) {
  switch (access) {
    case Access::kPublic:
      return true;
    case Access::kAuditor:
      return role == Role::kAuditor || role == Role::kAdmin;
    case Access::kAdmin:
      return role == Role::kAdmin;
  }
  return false;
}

namespace {

std::optional<std::string_view> FindFirst(const std::vector<NameValue>& v, std::string_view name) {
  for (const auto& [k, value] : v) {
    if (k == name) return std::string_view(value);
  }
  return std::nullopt;
}

void AppendField(std::string& out, std::string_view field, std::string_view value) {
  out += field;
  out += ": ";
  out += value;
  out += '\n';
}

}  // namespace

std::optional<std::string_view> Request::Header(std::string_view lower_name) const {
  return FindFirst(headers, lower_name);
}
std::optional<std::string_view> Request::PathParam(std::string_view name) const {
  return FindFirst(path_params, name);
}
std::optional<std::string_view> Request::Query(std::string_view name) const {
  return FindFirst(query, name);
}
std::vector<std::string_view> Request::QueryAll(std::string_view name) const {
  std::vector<std::string_view> out;
  for (const auto& [k, v] : query) {
    if (k == name) out.emplace_back(v);
  }
  return out;
}

bool IsSafeHeaderText(std::string_view s) {
  return s.find_first_of("\r\n", 0) == std::string_view::npos &&
         s.find('\0') == std::string_view::npos;
}

bool IsSafeHeader(std::string_view name, std::string_view value) {
  return !name.empty() && IsSafeHeaderText(name) && IsSafeHeaderText(value);
}

std::string FormatSseEvent(std::string_view event, std::string_view data, std::string_view id) {
  std::string out;
  out.reserve(data.size() + event.size() + id.size() + 32);
  if (!event.empty()) AppendField(out, "event", event);
  if (!id.empty()) AppendField(out, "id", id);
  // Every line of data becomes its own "data:" field; CRLF, CR and LF all end a line (SSE spec).
  size_t start = 0;
  while (true) {
    size_t end = data.find_first_of("\r\n", start);
    if (end == std::string_view::npos) {
      AppendField(out, "data", data.substr(start));
      break;
    }
    AppendField(out, "data", data.substr(start, end - start));
    start = end + 1;
    if (data[end] == '\r' && start < data.size() && data[start] == '\n') ++start;
  }
  out += '\n';
  return out;
}

struct Responder::State {
  explicit State(std::shared_ptr<ResponseSink> s) : sink(std::move(s)) {}
  ~State() {
    if (!answered.exchange(true)) {
      sink->Finish(SystemErrorResponse("handler dropped its Responder without answering"));
    }
  }
  State(const State&) = delete;
  State& operator=(const State&) = delete;

  std::shared_ptr<ResponseSink> sink;
  std::atomic<bool> answered{false};
};

Responder::Responder(std::shared_ptr<ResponseSink> sink)
    : state_(std::make_shared<State>(std::move(sink))) {}

namespace {

class CallbackSink final : public ResponseSink {
 public:
  explicit CallbackSink(std::function<void(Response)> fn) : fn_(std::move(fn)) {}
  void Finish(Response response) override { fn_(std::move(response)); }
  std::shared_ptr<EventStream> StartStream(std::vector<NameValue>) override { return nullptr; }

 private:
  std::function<void(Response)> fn_;
};

}  // namespace

Responder Responder::ForCallback(std::function<void(Response)> fn) {
  return Responder(std::make_shared<CallbackSink>(std::move(fn)));
}

void Responder::Respond(Response response) const {
  if (state_->answered.exchange(true)) return;  // a second answer is a handler bug; dropped
  state_->sink->Finish(std::move(response));
}

std::shared_ptr<EventStream> Responder::StartEventStream(std::vector<NameValue> headers) const {
  if (state_->answered.exchange(true)) return nullptr;
  std::shared_ptr<EventStream> stream = state_->sink->StartStream(std::move(headers));
  if (stream == nullptr) {
    state_->sink->Finish(SystemErrorResponse("StartEventStream on a non-streaming route"));
  }
  return stream;
}

bool Responder::answered() const { return state_->answered.load(); }

}  // namespace keyledger::api
