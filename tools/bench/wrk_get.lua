-- wrk script of tools/bench/http.sh: GET with the bearer token in $KEYLEDGER_WRK_TOKEN.
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("KEYLEDGER_WRK_TOKEN") or "")
