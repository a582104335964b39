#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import TinCanCore

/// The end-of-stream rules of one relayed TCP connection, the README's end-of-stream table, as a
/// pure state machine: each direction ends on its own, as TCP's half-close means.
///
/// The relay copies bytes in both directions on its own (the hot path never comes here) and feeds
/// this machine only the events that end a direction: our input's end of file, the peer's FIN, a
/// failed send or receive, an idle timeout. Each event returns the one ``Action`` to carry out next;
/// once carried out, ``finSent()`` or ``outputFinished()`` reports it done. No sockets, no clocks.
///
/// - the input reaches end of file: send FIN, and keep copying the peer's bytes until its FIN;
/// - the peer's FIN arrives first: finish writing the output, and keep sending the input until its
///   end of file, then close; unless the input is a terminal (a person is done once the peer has
///   gone) or there is no input at all (receive-only);
/// - a send fails because the peer went away (`EPIPE`, `ECONNRESET`, the channel closed): after the
///   peer's FIN that is how a conversation ends, quietly; before it, wait for the receiving
///   direction to tell (the FIN may not have been read yet): its FIN ends the relay quietly, its
///   failure fails the relay with the receiving direction's cause;
/// - the peer resets before its FIN, or the connection idles out: finish writing what arrived, then
///   fail.
struct RelayStateMachine {
    /// What the relay does next.
    enum Action: Equatable {
        /// Nothing yet: wait for the next event.
        case none
        /// Shut down our side's output (send FIN), then call ``finSent()``, or ``sendFailed(_:)``.
        case sendFIN
        /// Write out everything received so far (drain the output and end it), then call
        /// ``outputFinished()``, or ``outputFailed()``.
        case finishOutput
        /// Both directions are done: close the connection; the relay ends without error.
        case close
        /// Close the connection and fail the relay with this failure's message.
        case fail(RelayFailure)
    }

    /// Why a send failed, as far as the rules care.
    enum SendError: Equatable {
        /// The system's error number, e.g. `EPIPE` or `ECONNRESET` when the peer went away.
        case errno(CInt)
        /// The connection was closed already (NIO reports no errno then): the peer went away.
        case channelClosed
        /// Anything else: a failure.
        case other

        var errno: CInt? {
            if case .errno(let code) = self { return code }
            return nil
        }

        /// A send fails this way when the peer has closed or reset the connection (or it was closed).
        var peerWentAway: Bool {
            switch self {
            case .errno(let code): code == EPIPE || code == ECONNRESET
            case .channelClosed: true
            case .other: false
            }
        }
    }

    private enum Sending: Equatable {
        /// Copying our input to the peer.
        case copying
        /// Waiting for the FIN we asked for.
        case finishing
        /// Our FIN is sent (or we never had input): nothing more goes to the peer.
        case done
        /// A send failed because the peer went away; whether that is an error depends on whether
        /// its FIN arrives.
        case peerGone(RelayFailure)
    }

    private enum Receiving: Equatable {
        /// Copying the peer's bytes to our output.
        case copying
        /// The peer's stream ended (or failed); our output is being finished, then the relay fails
        /// with `then`, or goes on when it is nil.
        case finishingOutput(then: RelayFailure?)
        /// The peer's stream ended and the output is written.
        case done
    }

    private enum State: Equatable {
        case relaying(sending: Sending, receiving: Receiving)
        case ended
    }

    private var state: State
    private let inputIsTerminal: Bool
    /// Whether the relay reads its input at all: not with `receiveOnly`, nor without an input.
    let readsInput: Bool
    /// Whether what the peer sends reaches the output: not with `sendOnly` (it is read and dropped).
    let writesOutput: Bool

    /// - Parameters:
    ///   - options: `receiveOnly` (never read the input, never send FIN first: the relay ends once
    ///     the peer's stream has ended and the output is written), `sendOnly` (drop what the peer
    ///     sends), and `inputIsTerminal` (once the peer has finished, a person at a terminal is done:
    ///     the relay ends as soon as the output is written, without waiting for the input's end).
    ///   - hasInput: false when there is nothing to send, as with `receiveOnly`.
    init(options: RelayOptions, hasInput: Bool = true) {
        self.readsInput = hasInput && !options.receiveOnly
        self.writesOutput = !options.sendOnly
        self.inputIsTerminal = options.inputIsTerminal
        self.state = .relaying(sending: self.readsInput ? .copying : .done, receiving: .copying)
    }

    /// True once the relay has closed or failed.
    var hasEnded: Bool { self.state == .ended }

    /// Our input reached end of file.
    mutating func inputEnded() -> Action {
        guard case .relaying(.copying, let receiving) = self.state else { return .none }
        self.state = .relaying(sending: .finishing, receiving: receiving)
        return .sendFIN
    }

    /// The FIN asked for by ``Action/sendFIN`` is sent.
    mutating func finSent() -> Action {
        guard case .relaying(.finishing, let receiving) = self.state else { return .none }
        self.state = .relaying(sending: .done, receiving: receiving)
        return self.closeIfBothDone()
    }

    /// The peer's stream ended with its FIN.
    mutating func peerFinished() -> Action {
        guard case .relaying(let sending, .copying) = self.state else { return .none }
        self.state = .relaying(sending: sending, receiving: .finishingOutput(then: nil))
        return .finishOutput
    }

    /// Receiving failed with `errno` (nil when the failure has none).
    mutating func receiveFailed(errno: CInt?) -> Action {
        // Linux reports a reset that follows the peer's FIN as EPIPE on receive: the peer had
        // finished sending, then closed for good because we sent more. Its stream ended normally;
        // the sending direction decides whether that is a failure.
        if errno == EPIPE { return self.peerFinished() }
        return self.receivingEnds(failing: .receive(errno: errno))
    }

    /// The connection had nothing sent or received for longer than its idle limit.
    mutating func idleTimedOut() -> Action {
        self.receivingEnds(failing: .idleTimeout)
    }

    /// What arrived before a failure still reaches the output; then the relay fails.
    private mutating func receivingEnds(failing failure: RelayFailure) -> Action {
        guard case .relaying(let sending, .copying) = self.state else { return .none }
        self.state = .relaying(sending: sending, receiving: .finishingOutput(then: failure))
        return .finishOutput
    }

    /// The output asked for by ``Action/finishOutput`` is written.
    mutating func outputFinished() -> Action {
        guard case .relaying(let sending, .finishingOutput(let failure)) = self.state else { return .none }
        if let failure {
            self.state = .ended
            return .fail(failure)
        }
        self.state = .relaying(sending: sending, receiving: .done)
        switch sending {
        case .peerGone:
            // The send failed because the peer went away after all: the conversation is over.
            self.state = .ended
            return .close
        case .copying where self.inputIsTerminal:
            self.state = .ended
            return .close
        case .copying, .finishing, .done:
            return self.closeIfBothDone()
        }
    }

    /// A send to the peer (or our FIN) failed.
    mutating func sendFailed(_ error: SendError) -> Action {
        guard case .relaying(let sending, let receiving) = self.state else { return .none }
        let failure = RelayFailure.send(errno: error.errno)
        guard error.peerWentAway else {
            self.state = .ended
            return .fail(failure)
        }
        switch (sending, receiving) {
        case (_, .done):
            // The peer had finished: stop sending, quietly.
            self.state = .ended
            return .close
        case (.peerGone, _):
            return .none
        case (_, .copying), (_, .finishingOutput):
            // The peer's FIN may have arrived without being read yet (our output was slow): let the
            // receiving direction finish before judging.
            self.state = .relaying(sending: .peerGone(failure), receiving: receiving)
            return .none
        }
    }

    /// Writing our output failed; the relay fails with that error as it is.
    mutating func outputFailed() -> Action {
        guard case .relaying = self.state else { return .none }
        self.state = .ended
        return .fail(.output)
    }

    /// Reading our input failed; the relay fails with that error as it is.
    mutating func inputFailed() -> Action {
        guard case .relaying = self.state else { return .none }
        self.state = .ended
        return .fail(.input)
    }

    /// Closes once our FIN is sent (or there was no input) and the peer's stream is written out.
    private mutating func closeIfBothDone() -> Action {
        guard case .relaying(.done, .done) = self.state else { return .none }
        self.state = .ended
        return .close
    }
}

/// Why a relay failed, for ``RelayStateMachine/Action/fail(_:)``.
enum RelayFailure: Equatable {
    /// Receiving from the peer failed before its FIN.
    case receive(errno: CInt?)
    /// Sending to the peer failed, and the peer had not finished.
    case send(errno: CInt?)
    /// The connection idled past its limit.
    case idleTimeout
    /// Writing our output failed (its error says how).
    case output
    /// Reading our input failed (its error says how).
    case input

    /// The one-line error the relay throws, e.g. `receive from 127.0.0.1:5000: connection reset by
    /// peer`. `underlying` is the error behind the failure, when there is one; without it the
    /// cause comes from the errno.
    func error(peerName: String, underlying: (any Error)?, idleLimit: String = "?") -> TinCanError {
        let operation: String
        switch self {
        case .receive: operation = "receive from \(peerName)"
        case .send: operation = "send to \(peerName)"
        case .idleTimeout:
            return TinCanError(
                operation: "connection with \(peerName)", cause: "idle for \(idleLimit), closed", setting: "idleTimeout"
            )
        case .output, .input:
            if let error = underlying as? TinCanError { return error }
            operation = self == .output ? "write output" : "read input"
        }
        if let underlying { return TinCanError(operation: operation, underlying: underlying) }
        switch self {
        case .receive(let errno?), .send(let errno?):
            return TinCanError(operation: operation, cause: TinCanError.describeErrno(errno), errno: errno)
        default:
            return TinCanError(operation: operation, cause: "connection closed")
        }
    }
}
