/// The size of a terminal in character cells.
public struct TerminalSize: Hashable, Sendable {
    /// Lines.
    public var rows: Int
    /// Columns.
    public var columns: Int

    /// A size of `rows` lines by `columns` columns.
    public init(rows: Int, columns: Int) {
        self.rows = rows
        self.columns = columns
    }
}

/// What the screen should show: one string per row and where the cursor goes.
public struct TerminalFrame: Sendable, Equatable {
    /// Each row's text, top first. It may hold SGR sequences; the renderer fits each row to the width (cut
    /// with "…" or padded). Rows past the screen are ignored; missing rows are drawn empty.
    public var rows: [String]
    /// Where the cursor goes, 0-based; nil hides it.
    public var cursor: (row: Int, column: Int)?

    /// A frame of `rows` with the cursor at `cursor` (nil: hidden).
    public init(rows: [String], cursor: (row: Int, column: Int)?) {
        self.rows = rows
        self.cursor = cursor
    }

    /// Frames are equal when their rows and cursors are (tuples are not `Equatable`, hence by hand).
    public static func == (lhs: TerminalFrame, rhs: TerminalFrame) -> Bool {
        lhs.rows == rhs.rows && lhs.cursor?.row == rhs.cursor?.row && lhs.cursor?.column == rhs.cursor?.column
    }
}

/// Turns frames into the bytes that draw them, rewriting only the rows that changed since the last frame.
///
/// Pure: it returns a string for the caller to write. It never writes "\n" (every row is reached by absolute
/// cursor positioning), so it works whether or not the terminal translates newlines, and it never writes the
/// cursor past a row's last column, so nothing scrolls.
public struct TerminalRenderer: Sendable {
    /// The rows as last drawn (fitted to the width), or nil when the screen is unknown.
    private var drawn: [String]?
    private var drawnSize: TerminalSize?
    /// The cursor as last placed; nil: hidden.
    private var drawnCursor: Position?

    private struct Position: Equatable, Sendable {
        var row: Int
        var column: Int
    }

    /// A renderer whose first frame repaints the whole screen.
    public init() {}

    /// Makes the next ``render(_:size:)`` repaint everything (after something else wrote to the screen).
    public mutating func invalidate() {
        drawn = nil
        drawnSize = nil
        drawnCursor = nil
    }

    /// The bytes that turn the screen last drawn into `frame`.
    ///
    /// On the first frame, after ``invalidate()`` or when `size` changed: reset the style, clear the screen
    /// and write every row. Otherwise only the rows whose fitted text changed are rewritten: move to the row,
    /// clear it (`ESC [ 2 K`), write it. The cursor is hidden while rows are written, then placed and shown
    /// (or left hidden when `frame.cursor` is nil). Nothing changed gives "".
    public mutating func render(_ frame: TerminalFrame, size: TerminalSize) -> String {
        let rowCount = max(size.rows, 0)
        let width = max(size.columns, 0)
        let rows = (0..<rowCount).map { index in
            TerminalWidth.fit(index < frame.rows.count ? frame.rows[index] : "", width: width)
        }
        let cursor = frame.cursor.map {
            Position(row: min(max($0.row, 0), max(rowCount - 1, 0)),
                     column: min(max($0.column, 0), max(width - 1, 0)))
        }
        var output = ""
        if let drawn, drawnSize == size {
            for (index, row) in rows.enumerated() where row != drawn[index] {
                output += "\u{1B}[\(index + 1);1H\u{1B}[2K" + row
            }
        } else {
            output += "\u{1B}[0m\u{1B}[2J"
            for (index, row) in rows.enumerated() {
                output += "\u{1B}[\(index + 1);1H" + row
            }
        }
        let repainted = !output.isEmpty
        if repainted || cursor != drawnCursor {
            if let cursor {
                if repainted { output = "\u{1B}[?25l" + output }
                output += "\u{1B}[\(cursor.row + 1);\(cursor.column + 1)H\u{1B}[?25h"
            } else {
                output = "\u{1B}[?25l" + output
            }
        }
        drawn = rows
        drawnSize = size
        drawnCursor = cursor
        return output
    }
}
