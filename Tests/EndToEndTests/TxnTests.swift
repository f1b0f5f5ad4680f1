import Testing

extension EndToEnd {
    @Suite struct Txn {
        /// etcdctl's interactive txn (compares, then success ops, then failure ops, each ended by a blank line),
        /// in simple and JSON output.
        @Test func interactiveTxn() throws {
            try differential { s in
                s.ctl("put", "a", "1")
                s.ctl("put", "b", "2")
                s.ctl("put", "b", "22")
                s.ctl("put", "r/1", "x")
                s.ctl("put", "r/2", "y")
                let scripts: [String] = [
                    // value compare true → success branch
                    lines(#"value("a") = "1""#, "", "put a 2", "get a", "", "put a 3", ""),
                    // now false → failure branch
                    lines(#"value("a") = "1""#, "", "put a 2", "", "put a 3", "get a", ""),
                    // several compares on version / create / mod / value with every operator
                    lines(#"version("b") = "2""#, #"create("b") = "3""#, #"mod("b") > "3""#, #"value("b") != "2""#,
                          #"mod("a") < "100""#, "", "put c 1", "get b", "del r/1", "", "put c 0", ""),
                    lines(#"version("b") > "2""#, "", "put c 1", "", "put c 0", "get c", ""),
                    // compare on a missing key (create revision 0, version 0)
                    lines(#"create("missing") = "0""#, #"version("missing") = "0""#, "",
                          "put missing born", "", ""),
                    lines(#"create("missing") = "0""#, "", "put missing twice", "", "get missing", ""),
                    // ops with flags: prefix gets, prev-kv deletes, ranges
                    lines("", "get r/ --prefix", "get a --keys-only", "put q 1 --prev-kv", "", ""),
                    lines("", "del r/ --prefix --prev-kv", "", ""),
                    lines("", "get \"\" --from-key --limit 2", "get a z --keys-only", "", ""),
                    // a compare over a range (every key in [a, c) must satisfy it)
                    lines(#"mod("a", "c") > "0""#, "", "put range-ok 1", "", "put range-bad 1", ""),
                    lines(#"version("a", "c") = "1""#, "", "put range-ok 2", "", "put range-bad 2", ""),
                    // read-only txn (no revision change)
                    lines(#"value("a") = "3""#, "", "get a", "", "get b", ""),
                    // empty txn
                    lines("", "", ""),
                ]
                for script in scripts {
                    s.ctl(["txn", "-i"], stdin: script)
                    s.ctl(["txn", "-w", "json"], stdin: script)
                }
                s.ctl(["txn", "-w", "fields"], stdin: lines(#"value("a") = "3""#, "", "put f 1", "get f", "", ""))
                // Malformed scripts are etcdctl's business, but the exit codes should still match.
                s.ctl(["txn"], stdin: lines("bogus compare", "", "", ""))
                s.ctl(["txn"], stdin: lines("", "frobnicate a", "", ""))
                s.ctl("get", "", "--prefix", "-w", "json")
            }
        }
    }
}
