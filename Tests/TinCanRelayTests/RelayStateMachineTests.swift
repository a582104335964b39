#if canImport(Glibc)
import Glibc
#endif
import Testing
import TinCanCore

@testable import TinCanRelay

/// The README's end-of-stream table, row by row, against the pure state machine: each row is a
/// sequence of events and the action each one must return. The relay carries out the actions; the
/// command exits 0 after `.close` and 1 after `.fail` (one line: the failure's message).
@Suite struct RelayStateMachineTests {
    enum Event {
        case inputEnded, finSent, peerFinished, outputFinished, idleTimedOut, outputFailed, inputFailed
        case sendFailed(RelayStateMachine.SendError)
        case receiveFailed(CInt?)
    }

    typealias Step = (Event, RelayStateMachine.Action)

    struct Row: CustomTestStringConvertible, Sendable {
        let name: String
        let options: RelayOptions
        let hasInput: Bool
        let steps: [(Event, RelayStateMachine.Action)]
        /// The command's exit status the row's last action means.
        let exit: Int32

        init(_ name: String, _ options: RelayOptions = RelayOptions(), hasInput: Bool = true, exit: Int32, _ steps: [Step]) {
            self.name = name
            self.options = options
            self.hasInput = hasInput
            self.steps = steps
            self.exit = exit
        }

        var testDescription: String { self.name }
    }

    static func feed(_ machine: inout RelayStateMachine, _ event: Event) -> RelayStateMachine.Action {
        switch event {
        case .inputEnded: machine.inputEnded()
        case .finSent: machine.finSent()
        case .peerFinished: machine.peerFinished()
        case .outputFinished: machine.outputFinished()
        case .idleTimedOut: machine.idleTimedOut()
        case .outputFailed: machine.outputFailed()
        case .inputFailed: machine.inputFailed()
        case .sendFailed(let error): machine.sendFailed(error)
        case .receiveFailed(let code): machine.receiveFailed(errno: code)
        }
    }

    static let terminal = RelayOptions(inputIsTerminal: true)

    static let rows: [Row] = [
        Row("default: stdin reaches end of file: FIN, keep printing until the peer's FIN", exit: 0, [
            (.inputEnded, .sendFIN), (.finSent, .none), (.peerFinished, .finishOutput), (.outputFinished, .close),
        ]),
        Row("default, stdin a pipe or file: the peer's FIN: finish stdout, keep sending stdin, then FIN and close", exit: 0, [
            (.peerFinished, .finishOutput), (.outputFinished, .none), (.inputEnded, .sendFIN), (.finSent, .close),
        ]),
        Row("default, stdin a terminal: the peer's FIN: exit once stdout is written", terminal, exit: 0, [
            (.peerFinished, .finishOutput), (.outputFinished, .close),
        ]),
        Row("any: the peer closes completely after its FIN while stdin still has data: stop sending, quietly", exit: 0, [
            (.peerFinished, .finishOutput), (.outputFinished, .none), (.sendFailed(.errno(EPIPE)), .close),
        ]),
        Row("any: the peer resets after its FIN while stdin still has data: stop sending, quietly", exit: 0, [
            (.peerFinished, .finishOutput), (.outputFinished, .none), (.sendFailed(.errno(ECONNRESET)), .close),
        ]),
        Row("any: a send fails before the FIN is read, then the FIN: quietly", exit: 0, [
            (.sendFailed(.errno(EPIPE)), .none), (.peerFinished, .finishOutput), (.outputFinished, .close),
        ]),
        Row("any: a send fails, then receive reports the reset after the FIN as EPIPE: quietly", exit: 0, [
            (.sendFailed(.errno(ECONNRESET)), .none), (.receiveFailed(EPIPE), .finishOutput), (.outputFinished, .close),
        ]),
        Row("any: the peer resets before its FIN: one line, exit 1", exit: 1, [
            (.receiveFailed(ECONNRESET), .finishOutput), (.outputFinished, .fail(.receive(errno: ECONNRESET))),
        ]),
        Row("any: a send fails and the peer resets without its FIN: exit 1", exit: 1, [
            (.sendFailed(.errno(ECONNRESET)), .none), (.receiveFailed(ECONNRESET), .finishOutput),
            (.outputFinished, .fail(.receive(errno: ECONNRESET))),
        ]),
        Row("--send-only: FIN at stdin's end; exits when the peer closes", RelayOptions(sendOnly: true), exit: 0, [
            (.inputEnded, .sendFIN), (.finSent, .none), (.peerFinished, .finishOutput), (.outputFinished, .close),
        ]),
        Row("--recv-only: never sends FIN first; exits at the peer's FIN once stdout is written", RelayOptions(receiveOnly: true), exit: 0, [
            (.inputEnded, .none), (.peerFinished, .finishOutput), (.outputFinished, .close),
        ]),
    ]

    @Test(arguments: RelayStateMachineTests.rows)
    func row(_ row: Row) {
        var machine = RelayStateMachine(options: row.options, hasInput: row.hasInput)
        var last = RelayStateMachine.Action.none
        for (index, (event, expected)) in row.steps.enumerated() {
            #expect(!machine.hasEnded, "ended before step \(index)")
            last = Self.feed(&machine, event)
            #expect(last == expected, "step \(index): \(event)")
        }
        #expect(machine.hasEnded)
        switch last {
        case .close: #expect(row.exit == 0)
        case .fail: #expect(row.exit == 1)
        default: Issue.record("a row must end in close or fail, not \(last)")
        }
    }

    @Test("--send-only drops what the peer sends; --recv-only never reads the input")
    func directions() {
        let sendOnly = RelayStateMachine(options: RelayOptions(sendOnly: true))
        #expect(!sendOnly.writesOutput && sendOnly.readsInput)
        let receiveOnly = RelayStateMachine(options: RelayOptions(receiveOnly: true))
        #expect(receiveOnly.writesOutput && !receiveOnly.readsInput)
        let plain = RelayStateMachine(options: RelayOptions())
        #expect(plain.writesOutput && plain.readsInput)
        #expect(!RelayStateMachine(options: RelayOptions(), hasInput: false).readsInput)
    }

    @Test("the reset row's message names the peer and the cause")
    func resetMessage() {
        let error = RelayFailure.receive(errno: ECONNRESET).error(peerName: "127.0.0.1:5000", underlying: nil)
        #expect(error.description == "receive from 127.0.0.1:5000: connection reset by peer")
    }

    @Test("a send that fails for another reason fails at once, whatever the peer did")
    func sendFailure() {
        var machine = RelayStateMachine(options: RelayOptions())
        #expect(machine.sendFailed(.errno(EHOSTUNREACH)) == .fail(.send(errno: EHOSTUNREACH)))
        var after = RelayStateMachine(options: RelayOptions())
        #expect(after.peerFinished() == .finishOutput)
        #expect(after.outputFinished() == .none)
        #expect(after.sendFailed(.other) == .fail(.send(errno: nil)))
    }

    @Test("a send on a channel already closed counts as the peer gone")
    func channelClosed() {
        var machine = RelayStateMachine(options: RelayOptions())
        #expect(machine.peerFinished() == .finishOutput)
        #expect(machine.outputFinished() == .none)
        #expect(machine.sendFailed(.channelClosed) == .close)
    }

    @Test("an idle timeout finishes the output, then fails, even while a failed send waits")
    func idle() {
        var machine = RelayStateMachine(options: RelayOptions())
        #expect(machine.sendFailed(.channelClosed) == .none)
        #expect(machine.idleTimedOut() == .finishOutput)
        #expect(machine.outputFinished() == .fail(.idleTimeout))
        let error = RelayFailure.idleTimeout.error(peerName: "p", underlying: nil, idleLimit: "0.3 s")
        #expect(error.description == "connection with p: idle for 0.3 s, closed (idleTimeout)")
        #expect(error.description(namingSetting: { "--\($0)" }) == "connection with p: idle for 0.3 s, closed (--idleTimeout)")
    }

    @Test("writing the output or reading the input fails the relay with that error")
    func localFailures() {
        var output = RelayStateMachine(options: RelayOptions())
        #expect(output.peerFinished() == .finishOutput)
        #expect(output.outputFailed() == .fail(.output))
        var input = RelayStateMachine(options: RelayOptions())
        #expect(input.inputFailed() == .fail(.input))
        let underlying = TinCanError(operation: "write standard output", cause: "broken pipe")
        #expect(RelayFailure.output.error(peerName: "p", underlying: underlying).description == underlying.description)
    }

    @Test("nothing happens after the end")
    func afterEnd() {
        var machine = RelayStateMachine(options: Self.terminal)
        #expect(machine.peerFinished() == .finishOutput)
        #expect(machine.outputFinished() == .close)
        #expect(machine.inputEnded() == .none)
        #expect(machine.sendFailed(.errno(EPIPE)) == .none)
        #expect(machine.receiveFailed(errno: ECONNRESET) == .none)
    }
}
