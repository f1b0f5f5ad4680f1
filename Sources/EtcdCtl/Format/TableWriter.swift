import Foundation

/// olekukonko/tablewriter 0.0.5 as etcdctl configures it: default borders (`+`, `-`, `|`), a header row
/// in upper case centred in its column, cells aligned right, and cells wider than 30 columns re-wrapped at
/// spaces into several lines (tablewriter's `autoWrap` with `reflowText`).
struct TableWriter {
    private static let maxCellWidth = 30

    private var widths: [Int: Int] = [:]
    private var heights: [Int: Int] = [:]
    private var header: [[String]] = []
    private var lines: [[[String]]] = []

    private static let headerRow = -1

    init(_ rows: Rows) {
        for (column, title) in rows.header.enumerated() {
            header.append(measure(title, column: column, row: Self.headerRow))
        }
        for (index, row) in rows.rows.enumerated() {
            lines.append(row.enumerated().map { measure($0.element, column: $0.offset, row: index) })
        }
    }

    /// `Render()`: top border, header, separator, rows, bottom border.
    func render() -> String {
        var out = separator()
        for x in 0..<(heights[Self.headerRow] ?? 0) {
            out += "|"
            for column in 0..<widths.count {
                let cell = column < header.count ? header[column] : []
                let title = x < cell.count ? Self.title(cell[x]) : ""
                out += " " + Self.center(title, width: widths[column] ?? 0) + " |"
            }
            out += "\n"
        }
        out += separator()
        for (index, row) in lines.enumerated() {
            let height = heights[index] ?? 0
            for x in 0..<height {
                for (column, cell) in row.enumerated() {
                    // Cells with fewer lines than the row are padded with two spaces, as tablewriter does.
                    let text = x < cell.count ? cell[x] : "  "
                    out += "| " + Self.padLeft(text, width: widths[column] ?? 0) + " "
                }
                out += "|\n"
            }
        }
        return out + separator()
    }

    private func separator() -> String {
        "+" + (0..<widths.count).map { String(repeating: "-", count: (widths[$0] ?? 0) + 2) + "+" }.joined() + "\n"
    }

    /// `parseDimension`: wraps the cell and records the widest line for the column and the line count for
    /// the row.
    private mutating func measure(_ text: String, column: Int, row: Int) -> [String] {
        let paragraphs = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let widest = min(paragraphs.map(Self.displayWidth).max() ?? 0, Self.maxCellWidth)
        let wrapped = Self.wrap(paragraphs.joined(separator: " "), limit: widest)
        let width = max(widest, wrapped.map(Self.displayWidth).max() ?? 0)
        if let current = widths[column], current >= width, current != 0 {} else { widths[column] = width }
        if let current = heights[row], current >= wrapped.count, current != 0 {} else { heights[row] = wrapped.count }
        return wrapped
    }

    /// `WrapString`: splits at spaces and fills lines up to `limit` columns with the least raggedness.
    private static func wrap(_ text: String, limit: Int) -> [String] {
        let words = text.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        let limit = max(limit, words.map(displayWidth).max() ?? 0)
        return wrapWords(words, limit: limit).map { $0.joined(separator: " ") }
    }

    /// `WrapWords`: the dynamic program minimising the squared slack of every line but the last.
    private static func wrapWords(_ words: [String], limit: Int) -> [[String]] {
        let count = words.count
        let penalty = 100_000
        let wordWidths = words.map(displayWidth)
        var length = Array(repeating: Array(repeating: 0, count: count), count: count)
        for i in 0..<count {
            length[i][i] = wordWidths[i]
            for j in (i + 1)..<count {
                length[i][j] = length[i][j - 1] + 1 + wordWidths[j]
            }
        }
        var breakAt = Array(repeating: 0, count: count)
        var cost = Array(repeating: Int(Int32.max), count: count)
        for i in stride(from: count - 1, through: 0, by: -1) {
            if length[i][count - 1] <= limit {
                cost[i] = 0
                breakAt[i] = count
                continue
            }
            for j in (i + 1)..<count {
                let slack = limit - length[i][j - 1]
                var candidate = slack * slack + cost[j]
                if length[i][j - 1] > limit { candidate += penalty }
                if candidate < cost[i] {
                    cost[i] = candidate
                    breakAt[i] = j
                }
            }
        }
        var result: [[String]] = []
        var i = 0
        while i < count {
            result.append(Array(words[i..<breakAt[i]]))
            i = breakAt[i]
        }
        return result
    }

    /// `Title`: `_` to space, `.` to space unless between digits or spaces, trimmed, upper-cased.
    private static func title(_ name: String) -> String {
        let scalars = Array(name.unicodeScalars)
        func isNumberOrSpace(_ s: Unicode.Scalar) -> Bool { ("0"..."9").contains(s) || s == " " }
        var replaced = String.UnicodeScalarView()
        for (i, scalar) in scalars.enumerated() {
            switch scalar {
            case "_": replaced.append(" ")
            case "." where (i != 0 && !isNumberOrSpace(scalars[i - 1]))
                || (i != scalars.count - 1 && !isNumberOrSpace(scalars[i + 1])):
                replaced.append(" ")
            default: replaced.append(scalar)
            }
        }
        let trimmed = String(replaced).trimmingCharacters(in: .whitespacesAndNewlines)
        return trimmed.isEmpty && !name.isEmpty ? " " : trimmed.uppercased()
    }

    private static func center(_ text: String, width: Int) -> String {
        let gap = width - displayWidth(text)
        guard gap > 0 else { return text }
        return String(repeating: " ", count: gap / 2) + text + String(repeating: " ", count: gap - gap / 2)
    }

    private static func padLeft(_ text: String, width: Int) -> String {
        String(repeating: " ", count: max(0, width - displayWidth(text))) + text
    }

    /// mattn/go-runewidth's width for the text etcdctl puts in tables: one column per character, two for
    /// East Asian wide characters, none for combining marks and control characters.
    static func displayWidth(_ text: String) -> Int {
        text.unicodeScalars.reduce(0) { width, scalar in
            switch scalar.properties.generalCategory {
            case .nonspacingMark, .enclosingMark, .control, .format: width
            default: width + (isWide(scalar) ? 2 : 1)
            }
        }
    }

    private static func isWide(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x1100...0x115F, 0x2E80...0x303E, 0x3041...0x33FF, 0x3400...0x4DBF, 0x4E00...0x9FFF,
            0xA000...0xA4CF, 0xAC00...0xD7A3, 0xF900...0xFAFF, 0xFE30...0xFE4F, 0xFF00...0xFF60,
            0xFFE0...0xFFE6, 0x1F300...0x1F64F, 0x1F900...0x1F9FF, 0x20000...0x2FFFD, 0x30000...0x3FFFD:
            true
        default:
            false
        }
    }
}
