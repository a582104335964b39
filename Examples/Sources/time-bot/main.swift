// time-bot HOST PORT [NICK]
//
// An IRC bot, in plain lines over a TinCan TCP connection: it logs in to a chat server
// (`tincan chat serve`, or any IRC server) as a guest, joins #lobby, and answers "!time", in the
// channel or privately, with the current UTC time. It answers the server's PING to stay connected.
import Foundation
import TinCan

/// Prints one line on stderr and exits with status 1.
func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("time-bot: \(message)\n".utf8))
    exit(1)
}

let arguments = CommandLine.arguments
guard (3...4).contains(arguments.count), let port = Int(arguments[2]) else { fail("usage: time-bot HOST PORT [NICK]") }
let nick = arguments.count == 4 ? arguments[3] : "timebot"

do {
    let irc = try await TCPClient.connect(host: arguments[1], port: port, timeout: .seconds(10))
    // A guest logs in with NICK and USER alone (no PASS, no SASL). IRC lines end in CR LF.
    try await irc.send("NICK \(nick)\r\nUSER \(nick) 0 * :answers !time\r\n")

    for try await line in irc.lines {  // lines arrive without their CR LF
        // [:source] COMMAND parameters... [:last parameter, which may hold spaces]
        let words = line.split(separator: " ", maxSplits: 3)
        let command = line.hasPrefix(":") ? words.dropFirst().first : words.first
        switch command {
        case "PING":  // "PING :token" gets "PONG :token"
            try await irc.send("PONG \(words.dropFirst().joined(separator: " "))\r\n")
        case "001":  // welcome: logged in
            try await irc.send("JOIN #lobby\r\n")  // tincan's server has joined us already; others have not
        case "433":  // nickname in use
            fail("the nick \(nick) is taken: name another")
        case "PRIVMSG" where words.count == 4 && words[3].trimmingPrefix(":") == "!time":
            // ":ann!~ann@host PRIVMSG #lobby :!time": answer in the channel, or to ann herself.
            let sender = words[0].dropFirst().prefix { $0 != "!" }
            let target = words[2].hasPrefix("#") ? words[2] : sender
            try await irc.send("PRIVMSG \(target) :UTC time: \(Date.now.ISO8601Format())\r\n")
        default:
            break
        }
    }
    fail("the server closed the connection")
} catch {
    fail("\(error)")
}
