#pragma once
// FieldError locations and their JSON form (FastAPI's 422 entries), shared by every layer that
// reports or serializes validation errors.
//
// `FieldError::loc` is a vector of strings; an integer element (a list index or a JSON error
// position) is stored as LocIndex(i): the byte 0xFF followed by its decimal digits. 0xFF never
// occurs in UTF-8, so it cannot collide with an object key. Serialize only with
// AppendFieldErrorJson / ValidationErrorBody, which print those elements as JSON numbers.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "events/status.hpp"

namespace keyledger {

inline constexpr char kLocIndexMarker = '\xFF';

// The loc element for an integer position.
std::string LocIndex(size_t index);
// True (and sets *index) for an element made by LocIndex.
bool IsLocIndex(std::string_view part, size_t* index = nullptr);

// One 422 detail entry: {"type","loc","msg"[,"input"][,"ctx"]}, FastAPI's member order.
void AppendFieldErrorJson(std::string& out, const FieldError& e);
// The whole 422 body: {"detail":[...]}.
std::string ValidationErrorBody(const std::vector<FieldError>& errors);

}  // namespace keyledger
