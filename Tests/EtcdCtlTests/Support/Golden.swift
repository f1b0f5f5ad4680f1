import EtcdCtl
import Foundation
import SwiftProtobuf
import Testing

extension EtcdServer {
    /// Runs the command with `-w protobuf` and decodes the raw response bytes etcdctl prints.
    func protobuf<M: SwiftProtobuf.Message>(_ type: M.Type, _ arguments: [String]) throws -> M {
        let result = try etcdctl(["-w", "protobuf"] + arguments)
        try #require(result.exitCode == 0, "etcdctl \(arguments) failed: \(result.stderr)")
        return try M(serializedBytes: result.stdout)
    }

    /// Runs the command with `-w json` and decodes the JSON etcdctl prints (for commands whose protobuf
    /// output is not the whole response).
    func json<T: Decodable>(_ type: T.Type, _ arguments: [String]) throws -> T {
        let result = try etcdctl(["-w", "json"] + arguments)
        try #require(result.exitCode == 0, "etcdctl \(arguments) failed: \(result.stderr)")
        return try JSONDecoder().decode(T.self, from: result.stdout)
    }

    /// Runs the command once per format and expects the printer's text to equal etcdctl's stdout byte for
    /// byte, or, where etcdctl refuses the format, the printer to refuse it with the same message.
    func expectGolden(
        _ arguments: [String],
        formats: [OutputFormat] = OutputFormat.allCases,
        hex: Bool = false,
        stdin: String? = nil,
        sourceLocation: SourceLocation = #_sourceLocation,
        render: (any Printer) throws -> String
    ) throws {
        for format in formats {
            let result = try etcdctl(["-w", format.rawValue] + (hex ? ["--hex"] : []) + arguments, stdin: stdin)
            try expectSame(result, format: format, hex: hex, sourceLocation: sourceLocation, render: render)
        }
    }
}

/// Compares one etcdctl run with the printer for its format.
func expectSame(
    _ result: CommandResult,
    format: OutputFormat,
    hex: Bool = false,
    sourceLocation: SourceLocation = #_sourceLocation,
    render: (any Printer) throws -> String
) throws {
    let printer = makePrinter(format, hex: hex)
    let refusal = CommandText.error(PrinterError.unsupportedFormat(format).description)
    if result.exitCode == ExitCode.badFeature && result.stderr.hasSuffix(refusal) {
        #expect(throws: PrinterError.unsupportedFormat(format), sourceLocation: sourceLocation) {
            try render(printer)
        }
        return
    }
    try #require(result.exitCode == 0, "etcdctl -w \(format) failed: \(result.stderr)", sourceLocation: sourceLocation)
    let actual = try render(printer)
    #expect(actual == result.text, "format \(format)", sourceLocation: sourceLocation)
}
