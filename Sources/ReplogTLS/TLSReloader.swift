internal import Dispatch
public import NIOCore

#if canImport(Glibc)
    internal import Glibc
#endif

/// Reloads a ``TLSContextProvider`` without a restart: when its files change (checked every
/// `interval`) and on SIGHUP. Rotation is done by replacing files (``CertificateDirectory`` writes
/// through a rename); a reload that fails keeps the old material and is reported, never fatal.
public final class TLSReloader: Sendable {
    /// What happened at a check.
    public enum Event: Sendable {
        /// New material is in use for new connections.
        case reloaded(trigger: String)
        /// The files changed but could not be loaded; the previous material stays in use.
        case failed(TLSError, trigger: String)
    }

    private let provider: TLSContextProvider
    private let task: RepeatedTask
    private let signalSource: DispatchSourceSignalBox?

    /// Starts watching. `report` runs on `eventLoop` (file checks) or a dispatch queue (SIGHUP).
    /// With `handleSIGHUP`, SIGHUP's default action (terminate) is replaced by a reload.
    public init(
        provider: TLSContextProvider,
        interval: TimeAmount = .seconds(5),
        handleSIGHUP: Bool = true,
        eventLoop: any EventLoop,
        report: @escaping @Sendable (Event) -> Void
    ) {
        self.provider = provider
        let check: @Sendable (String) -> Void = { trigger in
            do {
                if try provider.reloadIfChanged(force: trigger == "SIGHUP") { report(.reloaded(trigger: trigger)) }
            } catch let error as TLSError {
                report(.failed(error, trigger: trigger))
            } catch {
                report(.failed(.invalidConfiguration("\(error)", openSSL: []), trigger: trigger))
            }
        }
        task = eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in check("file change") }
        if handleSIGHUP {
            signal(SIGHUP, SIG_IGN)
            let source = DispatchSource.makeSignalSource(
                signal: SIGHUP,
                queue: DispatchQueue(label: "replog.tls.sighup")
            )
            source.setEventHandler { check("SIGHUP") }
            source.resume()
            signalSource = DispatchSourceSignalBox(source: source)
        } else {
            signalSource = nil
        }
    }

    /// Stops watching.
    public func stop() {
        task.cancel()
        signalSource?.source.cancel()
    }
}

/// The signal source, which Dispatch makes thread-safe, in a Sendable box.
private final class DispatchSourceSignalBox: @unchecked Sendable {
    let source: any DispatchSourceSignal
    init(source: any DispatchSourceSignal) { self.source = source }
}
