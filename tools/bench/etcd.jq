# The etcd section of the benchmark report (tools/bench/etcd.sh's results), as Markdown lines:
# included by report.jq and run alone by etcd.sh (`jq -L tools/bench 'include "etcd";
# etcd_section'`). Input: an object whose .results holds the result lines. Ratios compare
# figures of the same run: writes against the mean of the raw etcd runs before and after,
# reads against the RocksDB node with the same view and concurrency.
def etcd_n0: if . == null then "" else (. | round | tostring) end;
def etcd_r2: if . == null or . == 0 then "" else ((. * 100 | round) / 100 | tostring) + "×" end;
def etcd_ratio($a; $b): if $a == null or $b == null or $b == 0 then null else $a / $b end;

def etcd_section:
  .results as $all
  | [$all[] | select(.group == "etcd-writes")] as $writes
  | [$all[] | select(.group == "etcd-reads")] as $reads
  | [$all[] | select(.group == "etcd-lag")] as $lags
  | ([$all[] | select(.group == "etcd-info" and (.name | startswith("one KeyUpdated")))]
     | first | .bytes) as $record_bytes
  | ([$all[] | select(.group == "etcd-info" and (.name | startswith("node B restart")))]
     | first) as $restart
  | def server_cores: if .baseline then .cpu.etcd_cores else .cpu.keyledgerd_cores + .cpu.etcd_cores end;
    def per_core: if server_cores > 0 then .ops_per_sec / server_cores else null end;
    def raw_per_core_mean($c):
      [$writes[] | select(.baseline and .concurrency == $c) | per_core]
      | if length > 0 then add / length else null end;
    def raw_mean($c):
      [$writes[] | select(.baseline and .concurrency == $c) | .ops_per_sec]
      | if length > 0 then add / length else null end;
    def per_write($n): if $n == null or .ops_per_sec == 0 then ""
      else ($n / (.ops_per_sec * .cpu.wall_seconds) * 100 | round / 100 | tostring) end;
  "## keyledger on etcd (3 members on this machine)",
    "",
    "Three etcd 3.4 members on 127.0.0.1 (each its own data directory on the same disk), keyledgerd nodes A and B with `--store etcd` on them, and a keyledgerd on RocksDB (one node) for the read baseline, all sharing this machine's cores with the load generator (and with whatever else runs on the machine: `others`).",
    "",
    "### Durable writes",
    "",
    "keyledgerd: `PUT /api/admin/endpoints/keys/{id}` over HTTP, each connection its own key; the registry decides a group of commands and appends it as one etcd transaction (records, stream index, versions, head), one transaction in flight per node. Raw etcd: one `POST /v3/kv/put` per request on etcd's JSON gateway, each connection its own key, a value of one keyledger record (\($record_bytes) bytes), against the member keyledgerd talks to; at \($writes | map(select(.baseline and (.name | test("before|after")))) | first | .concurrency // "") connections it runs before and after the keyledger cases, and ratios are against the mean of the raw runs at the same concurrency.",
    "",
    "| what | conc | writes/s | p50 µs | p99 µs | p99.9 µs | vs raw etcd | writes per server core-second | vs raw etcd, per core | commands per group | etcd Txn calls per group | µs per group append | etcd calls per write | WAL fsyncs per write | cores: load gen / keyledgerd / etcd / others | run-queue wait ms/s: keyledgerd / etcd |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ($writes[]
      | "| \(.name) | \(.concurrency) | \(.ops_per_sec | etcd_n0) | \(.p50_us | etcd_n0) | \(.p99_us | etcd_n0) | \(.p999_us | etcd_n0) | \(if .baseline then "" else etcd_ratio(.ops_per_sec; raw_mean(.concurrency)) | etcd_r2 end) | \(per_core | etcd_n0) | \(if .baseline then "" else etcd_ratio(per_core; raw_per_core_mean(.concurrency)) | etcd_r2 end) | \(.mean_commands_per_registry_group // "")\(if .registry_groups_over_32_share then " (\(.registry_groups_over_32_share * 100 | round)% > 32)" else "" end) | \(if .log_groups then (.etcd.txn / .log_groups * 100 | round / 100) else "" end) | \(.mean_log_group_write_us // "") | \(per_write(.etcd.txn + .etcd.range + .etcd.put)) | \(per_write(.etcd.wal_fsyncs_per_member)) | \(.cpu.load_generator_cores) / \(.cpu.keyledgerd_cores) / \(.cpu.etcd_cores) / \(.cpu.others_cores) | \(.cpu.runqueue_wait_ms_per_s.keyledgerd) / \(.cpu.runqueue_wait_ms_per_s.etcd) |"),
    "",
    "Commands per group: keyledgerd's `keyledger_registry_group_commands`; etcd Txn calls per group: the Txn calls the members handled per group append (a group whose operations pass `max_txn_ops`, 128, i.e. more than 42 writes of 3 keys, is committed as two transactions one after the other; version reads are Txn calls too); µs per group append: `keyledger_group_commit_write_seconds` (the append of one group, all its transactions' round trips); etcd calls: the gRPC calls (Txn, Range, Put) the three members handled, keyledgerd's follower and catch-up reads included; WAL fsyncs: per member. All counted over the whole case (key set-up and warm-up included) and divided by writes/s × its wall time, so per-write figures are approximate. cores: CPU used on average during the case (2 = both cores of this machine busy); writes per server core-second: writes/s divided by the cores the servers used (keyledgerd and etcd; etcd alone for raw rows), which other users of the machine disturb much less than writes/s. Run-queue wait: milliseconds per second that the processes' threads, summed, were runnable but waiting for a CPU (/proc/PID/task/*/schedstat): the price of each hand-off between threads on a full machine.",
    "",
    "### What etcd itself gives a group commit",
    "",
    "Raw `POST /v3/kv/txn` from http_load, each transaction carrying \([$all[] | select(.group == "etcd-txn")] | first | .writes_per_txn // "") writes (about keyledger's group size at 64 connections) laid out as keyledger lays them out (3 keys: record, stream index, stream version; or the record only) plus the head with keyledger's compare (value of the head), no keyledgerd: the ceiling of one transaction per group on this cluster. One connection is one transaction in flight (keyledgerd's writer today); four connections are four in flight (pipelined groups).",
    "",
    "| what | txns in flight | txns/s | writes/s | p50 µs per txn | p99 µs | vs raw etcd puts | writes per etcd core-second | vs raw etcd, per core | cores: load gen / etcd / others | etcd run-queue wait ms/s |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ([$all[] | select(.group == "etcd-txn")][]
      | "| \(.name) | \(.concurrency) | \(.ops_per_sec | etcd_n0) | \(.writes_per_sec | etcd_n0) | \(.p50_us | etcd_n0) | \(.p99_us | etcd_n0) | \(etcd_ratio(.writes_per_sec; raw_mean([$writes[] | select(.baseline) | .concurrency] | max)) | etcd_r2) | \(if .cpu.etcd_cores > 0 then .writes_per_sec / .cpu.etcd_cores else null end | etcd_n0) | \(etcd_ratio(if .cpu.etcd_cores > 0 then .writes_per_sec / .cpu.etcd_cores else null end; raw_per_core_mean([$writes[] | select(.baseline) | .concurrency] | max)) | etcd_r2) | \(.cpu.load_generator_cores) / \(.cpu.etcd_cores) / \(.cpu.others_cores) | \(.cpu.runqueue_wait_ms_per_s.etcd) |"),
    "",
    "### Reads on each node",
    "",
    "The same number of keys over 10 providers on both deployments (set up through node A; node B waited for with `X-Keyledger-Min-Seq`); reads are served from each node's in-memory projection. Per core: responses/s divided by the cores the serving node used (for the etcd deployment, both nodes' keyledgerd processes), which other users of the machine disturb much less.",
    "",
    "| view | node | conc | responses/s | p50 µs | p99 µs | body bytes | vs RocksDB node | responses per node core-second | vs RocksDB node, per core | cores: load gen / node / others |",
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ($reads | sort_by(.view, .concurrency, (.baseline | not), .node)[]
      | . as $r
      | ([$reads[] | select(.baseline and .view == $r.view and .concurrency == $r.concurrency)]
         | first) as $b
      | def node_cores: if .baseline then .cpu.rocksdb_node_cores else .cpu.keyledgerd_cores end;
        def read_per_core: if node_cores > 0 then .ops_per_sec / node_cores else null end;
        "| \(.view) | \(.name) | \(.concurrency) | \(.ops_per_sec | etcd_n0) | \(.p50_us | etcd_n0) | \(.p99_us | etcd_n0) | \(.body_bytes) | \(if .baseline then "baseline" else etcd_ratio($r.ops_per_sec; $b.ops_per_sec) | etcd_r2 end) | \(read_per_core | etcd_n0) | \(if .baseline then "baseline" else etcd_ratio(read_per_core; $b | read_per_core) | etcd_r2 end) | \(.cpu.load_generator_cores) / \(node_cores) / \(.cpu.others_cores) |"),
    "",
    "### Replication lag",
    "",
    "From the moment node A's 200 for a `PUT` arrived (its `X-Keyledger-Seq` is S) until node B served the write, one sample at a time. min-seq: one `GET /api/admin/providers/{id}` on B with `X-Keyledger-Min-Seq: S`, which B parks until it has applied S; poll: `GET` the key's provider key list on B again and again until it shows the new value. Both include one round trip to B (its plain round trip for the same request, measured between samples, is the floor). Node B restarted to ready in \($restart.seconds // "?") s (local snapshot, then the tail from etcd).",
    "",
    "| case | samples | lag p50 µs | lag p99 µs | lag p99.9 µs | lag max µs | B's plain round trip p50 µs | the PUT on A, p50 µs |",
    "|---|---:|---:|---:|---:|---:|---:|---:|",
    ($lags[]
      | "| \(.name)\(if .background_writes_per_sec then " (\(.background_writes_per_sec | etcd_n0) writes/s)" else "" end) | \(.samples) | \(.p50_us | etcd_n0) | \(.p99_us | etcd_n0) | \(.p999_us | etcd_n0) | \(.max_us | etcd_n0) | \(.b_plain_p50_us | etcd_n0) | \(.write_p50_us | etcd_n0) |"),
    "";
