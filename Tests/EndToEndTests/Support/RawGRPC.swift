import Foundation
import Testing

/// Raw gRPC calls with bytes no client library would send (malformed protobuf, bad frames), made with curl
/// over HTTP/2 with prior knowledge. Returns the call's outcome as text: the grpc-status and grpc-message
/// trailers, or how the stream ended when there were none.
enum RawGRPC {
    static var curl: String? { Binaries.optional("curl") }

    /// `frame` is the whole request body: 1-byte compressed flag, 4-byte big-endian length, message bytes.
    static func call(_ server: ServerProcess, method: String, frame: [UInt8]) -> String {
        call(address: server.clientAddress, scratch: server.root, method: method, frame: frame)
    }

    /// `call` in a differential scenario: a missing or unrunnable curl fails the test (through the session)
    /// instead of recording, for both servers, the same placeholder as if it were an answer.
    static func call(_ s: Session, method: String, frame: [UInt8]) -> String {
        let answer = call(s.server, method: method, frame: frame)
        if answer == notInstalled || answer.hasPrefix(cannotRun) {
            s.fail("\(s.flavor): \(answer) (tools/install-deps.sh --test installs curl)")
        }
        return answer
    }

    /// What `call` answers when curl is missing, or (as a prefix) when it cannot be run.
    static let notInstalled = "curl not installed"
    static let cannotRun = "cannot run curl: "

    /// `call` to the server at `address` (host:port), with a scratch file in the directory `scratch`.
    static func call(address: String, scratch: String, method: String, frame: [UInt8]) -> String {
        guard let curl else { return notInstalled }
        let file = scratch + "/raw-\(UUID().uuidString.prefix(8)).bin"
        _ = FileManager.default.createFile(atPath: file, contents: Data(frame))
        defer { try? FileManager.default.removeItem(atPath: file) }
        let result: CommandResult
        do {
            result = try Subprocess.run(curl, [
                "-s", "-v", "--max-time", "10", "--http2-prior-knowledge",
                "-H", "content-type: application/grpc", "-H", "te: trailers",
                "--data-binary", "@" + file, "-o", "/dev/null",
                "http://\(address)/\(method)",
            ], timeout: 15)
        } catch {
            return cannotRun + "\(error)"
        }
        var lines: [String] = []
        let stderrLines = result.stderr.components(separatedBy: .newlines)
        for line in stderrLines {
            let line = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.lowercased().hasPrefix("< grpc-status:") || line.lowercased().hasPrefix("< grpc-message:") {
                lines.append(String(line.dropFirst(2)))
            }
        }
        if lines.isEmpty {
            let reason = stderrLines
                .first { $0.contains("not closed cleanly") || $0.contains("rror") }
                .map { String($0).trimmingCharacters(in: .whitespaces) } ?? "?"
            lines.append("no gRPC status (curl exit \(result.exitCode): \(reason))")
        }
        return lines.joined(separator: "\n")
    }

    /// A gRPC message frame around `message`, uncompressed unless `compressedFlag`.
    static func frame(_ message: [UInt8], compressedFlag: Bool = false) -> [UInt8] {
        let n = UInt32(message.count)
        return [compressedFlag ? 1 : 0, UInt8(n >> 24), UInt8(n >> 16 & 0xff), UInt8(n >> 8 & 0xff), UInt8(n & 0xff)]
            + message
    }
}
