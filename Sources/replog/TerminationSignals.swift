import Dispatch

#if canImport(Glibc)
    import Glibc
#endif

/// SIGTERM and SIGINT as an async stream, caught from the moment this is created (so that a
/// signal during start-up is not lost, nor kills the process with its children still running).
/// ``stop(_:)`` ends the wait from inside the program too.
final class TerminationSignals: Sendable {
    private let stream: AsyncStream<String>
    private let continuation: AsyncStream<String>.Continuation
    private nonisolated(unsafe) let sources: [any DispatchSourceSignal]

    init() {
        (stream, continuation) = AsyncStream<String>.makeStream()
        let continuation = self.continuation
        let queue = DispatchQueue(label: "replog.signals")
        sources = [(SIGTERM, "SIGTERM"), (SIGINT, "SIGINT")].map { number, name -> any DispatchSourceSignal in
            Glibc.signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { continuation.yield(name) }
            source.resume()
            return source
        }
    }

    deinit { for source in sources { source.cancel() } }

    /// The name of the first signal (or stop reason) to arrive.
    func next() async -> String {
        for await name in stream { return name }
        return "end of signals"
    }

    func stop(_ reason: String) { continuation.yield(reason) }
}
