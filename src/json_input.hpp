#pragma once
// The request-input toolkit: strict JSON bodies and query strings in, FastAPI/pydantic-v2-shaped
// field errors out. Pure (no I/O); everything here is independent of HTTP. Three parts, each
// with its own header (this one includes all three):
//   - src/json_value.hpp: the JSON value (JsonValue) and the strict body parser (JsonBodyParser),
//     plus the UTF-8 text helpers;
//   - src/json_errors.hpp: the error diagnoser: field errors and error lists in FastAPI's shapes,
//     the echo of rejected input with credentials redacted, Python's json.loads syntax errors;
//   - src/json_coercions.hpp: pydantic v2 lax-mode coercions (Read*) and the model reader.
// The request models built on them are in src/commands.hpp, their field tables in
// src/field_tables.hpp.

#include "src/json_coercions.hpp"
#include "src/json_errors.hpp"
#include "src/json_value.hpp"
