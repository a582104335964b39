import Foundation

/// The `Content-Disposition` header's file name (RFC 6266, with RFC 8187's `filename*`), read
/// safely and written for any name.
public enum ContentDisposition {
    /// The file name in a `Content-Disposition` header (`filename*=UTF-8''...` or `filename=`),
    /// its last path component, without control characters and quotes, at most 200 characters;
    /// "file" for none.
    public static func fileName(_ header: String?) -> String {
        var name: String?
        for parameter in (header ?? "").split(separator: ";").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            let lowered = parameter.lowercased()
            if lowered.hasPrefix("filename*="), let apostrophe = parameter.range(of: "''") {
                name = String(parameter[apostrophe.upperBound...]).removingPercentEncoding
                break
            } else if lowered.hasPrefix("filename=") {
                var value = parameter.dropFirst(9)
                if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = value.dropFirst().dropLast() }
                name = value.replacingOccurrences(of: "\\\"", with: "\"")
            }
        }
        let base = (name ?? "").split(whereSeparator: { $0 == "/" || $0 == "\\" }).last.map(String.init) ?? ""
        let clean = String(base.filter { !$0.isNewline && $0 != "\"" && !($0.unicodeScalars.first?.properties.generalCategory == .control) }.prefix(200))
        return clean.trimmingCharacters(in: .whitespaces).isEmpty || clean == "." || clean == ".." ? "file" : clean
    }

    /// `kind` (`inline` or `attachment`) with `name` as ASCII and as UTF-8.
    public static func header(_ kind: String, fileName name: String) -> String {
        let ascii = String(name.map { $0.isASCII && $0 != "\\" && $0 != "%" && $0 != "\"" ? $0 : "_" })
        // RFC 8187's attr-char.
        let allowed = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$&+-.^_`|~")
        let encoded = name.addingPercentEncoding(withAllowedCharacters: allowed) ?? "file"
        return "\(kind); filename=\"\(ascii)\"; filename*=UTF-8''\(encoded)"
    }
}
