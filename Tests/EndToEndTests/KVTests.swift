import Testing

extension EndToEnd {
    @Suite struct KV {
        /// put / get with every flag etcdctl 3.4 has.
        @Test func putAndGetWithEveryFlag() throws {
            try differential { s in
                // Keys whose create / mod revision, version and value orders all differ.
                s.ctl("put", "k/b", "3")
                s.ctl("put", "k/a", "2")
                s.ctl("put", "k/c", "1")
                s.ctl("put", "k/a", "5")
                s.ctl("put", "k/d", "4")
                s.ctl("put", "k/a", "0")
                s.ctl("put", "k/c", "9")
                s.ctl("put", "j", "before")
                s.ctl("put", "l", "after")
                s.ctl("put", "k0", "zero")

                for format in ["simple", "json", "fields"] {
                    s.ctl("get", "k/a", "-w", format)
                    s.ctl("get", "k/", "--prefix", "-w", format)
                    s.ctl("get", "missing", "-w", format)
                    s.ctl("put", "fmt-\(format)", "v", "-w", format)
                    s.ctl("put", "fmt-\(format)", "w", "--prev-kv", "-w", format)
                }
                s.ctl("get", "k/", "--prefix")
                s.ctl("get", "k/", "--from-key")
                s.ctl("get", "", "--from-key", "-w", "json")
                s.ctl("get", "k/b", "k/d")  // [k/b, k/d)
                s.ctl("get", "k/b", "k/d", "-w", "json")
                for limit in ["1", "2", "4", "10"] {
                    s.ctl("get", "k/", "--prefix", "--limit", limit, "-w", "json")
                }
                s.ctl("get", "", "--from-key", "--limit", "3", "--keys-only")
                for target in ["KEY", "CREATE", "MODIFY", "VALUE", "VERSION"] {
                    s.ctl("get", "k/", "--prefix", "--sort-by=\(target)")
                    for order in ["ASCEND", "DESCEND"] {
                        s.ctl("get", "k/", "--prefix", "--sort-by=\(target)", "--order=\(order)", "--keys-only")
                        s.ctl("get", "k/", "--prefix", "--sort-by=\(target)", "--order=\(order)", "--limit", "2",
                              "-w", "json")
                    }
                }
                s.ctl("get", "k/", "--prefix", "--order=DESCEND")
                s.ctl("get", "k/", "--prefix", "--order=ASCEND", "--limit", "1")
                for rev in ["1", "2", "4", "6", "8", "11"] {
                    s.ctl("get", "k/", "--prefix", "--rev", rev, "-w", "json")
                }
                s.ctl("get", "k/a", "--rev", "5")
                s.ctl("get", "k/a", "--rev", "0")
                s.ctl("get", "k/", "--prefix", "--keys-only")
                s.ctl("get", "k/", "--prefix", "--keys-only", "-w", "json")
                s.ctl("get", "k/", "--prefix", "--print-value-only")
                s.ctl("get", "k/a", "--consistency=s")
                s.ctl("get", "k/", "--prefix", "--consistency=s", "-w", "json")
                s.ctl("get", "k/a", "--consistency=l", "-w", "json")
                s.ctl("--hex", "get", "k/", "--prefix")
                s.ctl("--hex", "get", "k/a", "-w", "json")
                s.ctl("--hex", "get", "k/a", "-w", "fields")
                s.ctl("get", "k/", "--prefix", "--hex", "--print-value-only")

                // Binary-ish and unicode values, and a key longer than LMDB's 511-byte key limit.
                s.ctl("put", "uni", "ünïcödé ✓")
                s.ctl("get", "uni", "--hex")
                let long = "long/" + String(repeating: "x", count: 600)
                s.ctl("put", long, "long value")
                s.ctl("put", long + "y", "longer")
                s.ctl("get", "long/", "--prefix", "-w", "json")
                s.ctl("get", long, "--print-value-only")
                s.ctl("del", long, "--prev-kv")
                s.ctl("get", "long/", "--prefix", "--keys-only")

                // put flags
                s.ctl("put", "p", "1", "--prev-kv")  // new key: no previous
                s.ctl("put", "p", "2", "--prev-kv")
                s.ctl("put", "p", "3", "--prev-kv", "-w", "json")
                s.ctl("put", "p", "--ignore-value")
                s.ctl("get", "p", "-w", "json")
                s.ctl("put", "p", "--ignore-value", "--prev-kv", "-w", "json")
                s.ctl("put", "nothere", "--ignore-value")
                s.ctl("put", "nothere", "v", "--ignore-lease")
                s.ctl("put", "p", "4", "--ignore-lease", "-w", "json")
                let grant = s.ctl("lease", "grant", "600")
                let lease = grant.stdout.split(separator: " ").dropFirst().first.map(String.init) ?? "0"
                s.ctl("put", "leased", "1", "--lease=\(lease)")
                s.ctl("put", "leased", "2", "--ignore-lease")
                s.ctl("put", "leased", "--ignore-value", "--ignore-lease")
                s.ctl("get", "leased", "-w", "json")
                s.ctl("put", "leased", "3")  // a plain put detaches the lease
                s.ctl("get", "leased", "-w", "fields")
                s.ctl("put", "empty-value", "")
                s.ctl("get", "empty-value", "-w", "json")
                s.ctl("get", "", "--prefix", "-w", "json")
            }
        }

        /// del with --prefix, --from-key, --prev-kv, ranges, and of missing keys.
        @Test func delete() throws {
            try differential { s in
                for key in ["a", "a/1", "a/2", "a/3", "b", "b/1", "c", "d", "e", "f"] {
                    s.ctl("put", key, "v-\(key)")
                }
                s.ctl("put", "a/2", "again")
                s.ctl("del", "missing")
                s.ctl("del", "missing", "-w", "json")
                s.ctl("del", "missing", "--prev-kv")
                s.ctl("del", "zz", "--prefix")
                s.ctl("del", "a/1")
                s.ctl("del", "a/1")
                s.ctl("del", "a/", "--prefix", "--prev-kv")
                s.ctl("get", "", "--prefix", "-w", "json")
                s.ctl("del", "b", "--prev-kv", "-w", "json")
                s.ctl("del", "b/1", "--prev-kv", "-w", "fields")
                s.ctl("del", "c", "e")  // [c, e)
                s.ctl("get", "", "--prefix", "--keys-only")
                s.ctl("del", "e", "--from-key", "--prev-kv")
                s.ctl("get", "", "--prefix", "-w", "json")
                // History survives deletes.
                s.ctl("get", "", "--prefix", "--rev", "12", "-w", "json")
                s.ctl("get", "a/", "--prefix", "--rev", "13", "--keys-only")
                s.ctl("put", "a", "reborn")  // a new generation: version 1, new create revision
                s.ctl("get", "a", "-w", "json")
                s.ctl("del", "", "--prefix", "-w", "json")
                s.ctl("del", "", "--from-key")
                s.ctl("get", "", "--prefix", "-w", "json")
            }
        }
    }
}
