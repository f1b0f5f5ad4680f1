import Foundation
import Server

// setcd-fuzz: libFuzzer targets for setcd's decoders (Server's `FuzzTarget`).
//
// Built for fuzzing (tools/fuzz: `-sanitize=fuzzer -DFUZZING`), libFuzzer drives the target named by
// SETCD_FUZZ_TARGET. Built normally, it replays inputs through a target, or writes seed corpora:
//
//   setcd-fuzz TARGET FILE|DIRECTORY...     run each input (a crash is a bug: the file reproduces it)
//   setcd-fuzz --seeds DIRECTORY            write each target's seeds to DIRECTORY/TARGET/

#if FUZZING
/// The target this fuzzing process drives (read once).
let target: FuzzTarget = {
    guard let name = ProcessInfo.processInfo.environment["SETCD_FUZZ_TARGET"], let target = FuzzTarget(rawValue: name) else {
        fatalError("set SETCD_FUZZ_TARGET to one of: \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    return target
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    target.run(size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

/// libFuzzer's driver (libclang_rt.fuzzer).
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

/// SwiftPM links an executable's `main` to `<module>_main`: hand the process to libFuzzer's driver.
@_cdecl("setcd_fuzz_main")
func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv, fuzzOneInput)
}
#else
@main
struct Replay {
    static func main() throws {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if arguments.first == "--seeds", arguments.count == 2 {
            for target in FuzzTarget.allCases {
                let directory = arguments[1] + "/" + target.rawValue
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                for (number, seed) in try target.seeds().enumerated() {
                    try Data(seed).write(to: URL(fileURLWithPath: directory + "/seed-\(number)"))
                }
            }
            return
        }
        guard let name = arguments.first, let target = FuzzTarget(rawValue: name), arguments.count > 1 else {
            print("usage: setcd-fuzz {\(FuzzTarget.allCases.map(\.rawValue).joined(separator: "|"))} FILE|DIRECTORY... | setcd-fuzz --seeds DIRECTORY")
            exit(2)
        }
        var count = 0
        for path in arguments.dropFirst() {
            var isDirectory: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
            let files = isDirectory.boolValue ? try FileManager.default.contentsOfDirectory(atPath: path).sorted().map { path + "/" + $0 } : [path]
            for file in files {
                guard let data = FileManager.default.contents(atPath: file) else { continue }
                target.run(Array(data))
                count += 1
            }
        }
        print("\(target.rawValue): \(count) inputs, no crash")
    }
}
#endif
