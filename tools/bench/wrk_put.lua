-- wrk script of tools/bench/http.sh: PUT /api/admin/endpoints/keys/{id} ({"internal_priority":n})
-- over the key ids in $KEYLEDGER_WRK_KEYS (comma-separated), with $KEYLEDGER_WRK_TOKEN.
-- Updates without If-Match never conflict, so every answer should be a 200; wrk counts the
-- others in its "Non-2xx or 3xx responses" line, which http.sh treats as a failure.
local keys = {}
for id in string.gmatch(os.getenv("KEYLEDGER_WRK_KEYS") or "", "[^,]+") do
  keys[#keys + 1] = id
end
local headers = {
  ["Authorization"] = "Bearer " .. (os.getenv("KEYLEDGER_WRK_TOKEN") or ""),
  ["Content-Type"] = "application/json",
}
local n = 0

request = function()
  n = n + 1
  local id = keys[math.random(#keys)]
  return wrk.format("PUT", "/api/admin/endpoints/keys/" .. id, headers,
                    '{"internal_priority":' .. (n % 1000) .. '}')
end
