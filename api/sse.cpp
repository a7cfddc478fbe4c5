#include "api/sse.hpp"

#include <algorithm>
#include <cstdio>
#include <utility>

namespace keyledger::api {

SseStream::SseStream(std::weak_ptr<StreamOwner> owner, size_t limit, size_t byte_limit,
                     std::shared_ptr<std::atomic<int64_t>> buffered)
    : owner_(std::move(owner)),
      limit_(limit),
      byte_limit_(byte_limit),
      buffered_(std::move(buffered)) {}

SseStream::~SseStream() {
  std::lock_guard<std::mutex> lock(mu_);
  Release(held_bytes_);
}

void SseStream::Release(size_t bytes) {
  bytes = std::min(bytes, held_bytes_);
  held_bytes_ -= bytes;
  if (buffered_ != nullptr) buffered_->fetch_sub(static_cast<int64_t>(bytes));
}

size_t SseStream::held_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return held_bytes_;
}

bool SseStream::Send(std::string_view event, std::string_view data, std::string_view id) {
  if (!IsSafeHeaderText(event) || !IsSafeHeaderText(id)) return false;
  return Enqueue(FormatSseEvent(event, data, id));
}

bool SseStream::SendComment(std::string_view text) {
  std::string line = ":";
  if (!text.empty()) {
    line += ' ';
    for (const char c : text) line += (c == '\r' || c == '\n') ? ' ' : c;
  }
  line += "\n\n";
  return Enqueue(std::move(line));
}

void SseStream::Close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!open_) return;
    open_ = false;
    close_requested_ = true;
  }
  if (auto o = owner_.lock()) o->PostStreamFlush();
}

bool SseStream::IsOpen() const {
  std::lock_guard<std::mutex> lock(mu_);
  return open_ && !ended_;
}

void SseStream::OnClose(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!ended_) {
      callbacks_.push_back(std::move(fn));
      return;
    }
  }
  fn();
}

void SseStream::TakePending(std::string* out, bool* close_requested, size_t* taken) {
  std::lock_guard<std::mutex> lock(mu_);
  *taken = 0;
  for (std::string& s : queue_) {
    *out += s;
    *taken += s.size();
  }
  queue_.clear();
  flush_posted_ = false;
  *close_requested = close_requested_;
}

void SseStream::WriteDone(size_t bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!ended_) Release(bytes);
}

void SseStream::MarkEnded() {
  std::vector<std::function<void()>> callbacks;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (ended_) return;
    ended_ = true;
    open_ = false;
    queue_.clear();
    Release(held_bytes_);
    callbacks.swap(callbacks_);
  }
  for (auto& fn : callbacks) fn();
}

bool SseStream::Enqueue(std::string text) {
  bool post = false;
  bool overflow = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!open_ || ended_) return false;
    const bool fits =
        held_bytes_ == 0 || (queue_.size() < limit_ && held_bytes_ + text.size() <= byte_limit_);
    if (!fits) {
      // A consumer this far behind would make us buffer without bound: drop it, with a last
      // event that says why (held beyond the bound, once).
      open_ = false;
      close_requested_ = true;
      overflow = true;
      text = FormatSseEvent("stream-closed",
                            R"({"reason":")" + std::string(kSseTooSlowReason) +
                                R"(","message":"the subscriber fell too far behind; reconnect )"
                                R"(with Last-Event-ID to resume"})",
                            "");
    }
    held_bytes_ += text.size();
    if (buffered_ != nullptr) buffered_->fetch_add(static_cast<int64_t>(text.size()));
    queue_.push_back(std::move(text));
    post = !flush_posted_;
    flush_posted_ = true;
  }
  auto o = owner_.lock();
  if (o == nullptr) return false;
  if (overflow) {
    o->PostStreamAbort();
    return false;
  }
  if (post) o->PostStreamFlush();
  return true;
}

std::string SseResponseHead(unsigned version, std::string_view server_header,
                            const std::vector<NameValue>& headers) {
  std::string head = version >= 11 ? "HTTP/1.1 200 OK\r\n" : "HTTP/1.0 200 OK\r\n";
  head += "Server: ";
  head += server_header;
  head += "\r\n";
  head += "Content-Type: text/event-stream; charset=utf-8\r\n";
  head += "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n";
  for (const auto& [name, value] : headers) {
    if (!IsSafeHeader(name, value)) continue;
    head += name + ": " + value + "\r\n";
  }
  if (SseChunked(version)) head += "Transfer-Encoding: chunked\r\n";
  head += "Connection: close\r\n\r\n";
  return head;
}

std::string SseFrame(std::string events, bool chunked) {
  if (!chunked) return events;
  char size[20];
  std::snprintf(size, sizeof(size), "%zx\r\n", events.size());
  std::string out = size;
  out += events;
  out += "\r\n";
  return out;
}

}  // namespace keyledger::api
