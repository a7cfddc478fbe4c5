#pragma once
// The audit stream, GET /api/admin/audit/stream (internal to the admin routes): every committed
// event as a Server-Sent Event, in order, to every subscriber.
//
//   - A subscriber resumes after ?after= or Last-Event-ID (else from the head), with at most
//     AdminApiOptions::max_stream_backlog events replayed before live delivery.
//   - At most AdminApiOptions::max_streams streams are open at once; one more is answered 429.
//   - The token a stream was opened with is checked again (Authenticator::Recheck) before every
//     delivery and after every tokens reload (SIGHUP, AdminApi::OnTokensReloaded); a stream
//     whose token no longer grants the auditor role gets a last "stream-closed" event with the
//     reason and ends.
//   - AdminApi::Shutdown ends every stream.
// Delivery runs on the admin worker pool; commit notifications from the registry's writer
// thread only schedule it. The connection side of a stream is api/sse.hpp.

#include "api/admin_api_internal.hpp"

namespace keyledger::api {

// Creates the hub (AdminApi::Impl::hub) and registers the stream route.
Status RegisterAuditStreamRoute(Router& router, AdminApi::Impl& api);
// Ends every stream (AdminApi::Shutdown).
void ShutdownStreams(AdminApi::Impl& api);
// Checks every open stream's token now, events or not (AdminApi::OnTokensReloaded).
void RecheckStreams(AdminApi::Impl& api);

}  // namespace keyledger::api
