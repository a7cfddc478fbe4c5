#pragma once
// Server-Sent Events on a connection, without Beast: the EventStream a handler gets from
// Responder::StartEventStream (SseStream: a bounded queue between the handler's threads and the
// connection's strand), and the bytes a stream puts on the wire (the response head, chunk
// framing). The connection side, which writes those bytes, watches the peer and sends the
// heartbeat, is the session's (api/session.cpp); the audit stream that feeds events into these
// streams is api/audit_stream.hpp.
//
// Wire format: an HTTP/1.1 stream is chunked (each flush one chunk, "0\r\n\r\n" at the end); an
// HTTP/1.0 stream is the raw events, ended by closing the connection. Either way the response
// says Connection: close: the stream owns the rest of the connection.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "api/handler.hpp"

namespace keyledger::api {

// The connection side of an SseStream; implemented by the session.
class StreamOwner {
 public:
  virtual ~StreamOwner() = default;
  virtual void PostStreamFlush() = 0;  // thread-safe: write what is queued (or close)
  virtual void PostStreamAbort() = 0;  // thread-safe: the consumer is too slow; drop it
};

// The reason of the last event a subscriber gets when it is dropped as too slow.
inline constexpr std::string_view kSseTooSlowReason = "too_slow";

// Thread-safe. A stream holds at most `limit` events (ServerConfig::sse_queue_limit) and at most
// `byte_limit` bytes of events (ServerConfig::sse_buffer_bytes), counting both what is queued
// and what the connection is writing (until WriteDone); an event that arrives while nothing is
// held is always taken, so one event larger than byte_limit still gets through. The event that
// would exceed either bound ends the stream instead of buffering without bound: the stream takes
// one last event, "stream-closed" with {"reason":"too_slow",...}, closes (Send returns false
// from then on) and asks its owner to drop the connection (PostStreamAbort), which writes that
// last event if the consumer takes it within ServerConfig::sse_drop_grace.
// `buffered` (may be null) is a counter shared by every stream of a server: the bytes all of
// them hold, for /metrics.
class SseStream final : public EventStream {
 public:
  SseStream(std::weak_ptr<StreamOwner> owner, size_t limit, size_t byte_limit,
            std::shared_ptr<std::atomic<int64_t>> buffered = nullptr);
  ~SseStream() override;

  bool Send(std::string_view event, std::string_view data, std::string_view id) override;
  bool SendComment(std::string_view text) override;
  void Close() override;
  bool IsOpen() const override;
  void OnClose(std::function<void()> fn) override;

  // Session side (strand): everything queued so far (its event bytes in *taken, still held
  // until WriteDone), and whether Close() was called.
  void TakePending(std::string* out, bool* close_requested, size_t* taken);
  // Session side: `bytes` taken by TakePending are written (or the write failed).
  void WriteDone(size_t bytes);
  // Session side: the stream is over (any reason). Runs the OnClose callbacks once.
  void MarkEnded();
  // Bytes held now (queued or being written).
  size_t held_bytes() const;

 private:
  bool Enqueue(std::string text);
  void Release(size_t bytes);  // caller holds mu_

  std::weak_ptr<StreamOwner> owner_;
  const size_t limit_;
  const size_t byte_limit_;
  const std::shared_ptr<std::atomic<int64_t>> buffered_;
  mutable std::mutex mu_;
  std::deque<std::string> queue_;
  size_t held_bytes_ = 0;  // queued plus taken and not yet written
  std::vector<std::function<void()>> callbacks_;
  bool open_ = true;
  bool ended_ = false;
  bool close_requested_ = false;
  bool flush_posted_ = false;
};

// The response head of a stream: "HTTP/1.x 200 OK", Server, Content-Type: text/event-stream,
// Cache-Control: no-cache, X-Accel-Buffering: no, then `headers` (already finished by the
// Dispatcher: X-Request-Id, the handler's, CORS) in order, Transfer-Encoding: chunked for
// HTTP/1.1, Connection: close. `version` is 10 or 11.
std::string SseResponseHead(unsigned version, std::string_view server_header,
                            const std::vector<NameValue>& headers);
// True when a stream on an HTTP/`version` connection is chunked.
inline bool SseChunked(unsigned version) { return version >= 11; }
// `events` (one or more formatted events or comments) framed for the wire.
std::string SseFrame(std::string events, bool chunked);
// The end of a chunked stream.
inline constexpr std::string_view kSseLastChunk = "0\r\n\r\n";

}  // namespace keyledger::api
