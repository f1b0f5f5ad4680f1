import Testing

extension EndToEnd {
    @Suite struct Environment {
        /// Both servers configured only through ETCD_* variables (no flags): same member, same behaviour,
        /// including a limit set by a variable.
        @Test func configurationFromEtcdVariables() throws {
            let options = ScenarioOptions(serverArguments: ["--max-txn-ops", "2"], configureByEnvironment: true)
            try differential(options) { s in
                s.ctl("member", "list", "-w", "json")
                s.ctl("put", "k", "v")
                s.ctl("get", "k", "-w", "json")
                s.ctl(["txn"], stdin: lines("", "put a 1", "put b 2", "put c 3", "", ""))
                s.ctl("get", "", "--prefix", "--keys-only")
            }
        }
    }
}
