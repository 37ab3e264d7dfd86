import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Raft
import SpoolCluster
import SpoolCore
import SpoolStorage

/// This broker's replica of the cluster's metadata group (`RaftGroupID.metadata`, every broker a
/// voter): a `ReplicaDriver` whose entries are `MetadataCommand`s (kind `.configuration`) and
/// whose state machine is `ClusterMetadata`. Every broker applies the same committed commands in
/// the same order, so every broker holds the same brokers, topics and placement (docs/cluster.md).
///
/// A command is proposed with a request id (this node and a counter) in front of its encoding,
/// so the broker that proposed it hears the outcome its own apply computed (`propose`), and the
/// others apply it alike. The state is rebuilt at open from the committed entries in the file:
/// unlike a partition, whose records are its state and are written with their entries, the
/// metadata is applied in memory, so a restart reads its log again (small: a command per CREATE,
/// DROP and broker start).
public final class MetadataReplica: Sendable {
    public let driver: ReplicaDriver
    private let node: NodeID
    private let state: NIOLockedValueBox<State>
    /// Where a proposal made on a follower goes to reach the leader (nil: a follower fails it).
    private let forwarder: ReplicaRouter?
    private let ticker: ReplicaTicker
    private let limits: SpoolLimits

    private struct State {
        var metadata: ClusterMetadata
        var nextSequence: UInt64 = 0
        var waiting: [UInt64: @Sendable (Result<ClusterMetadata.Outcome, ReplicaError>) -> Void] = [:]
        /// Told after every apply, with the metadata as it now is (storage thread).
        var listeners: [@Sendable (ClusterMetadata) -> Void] = []
    }

    private init(driver: ReplicaDriver, node: NodeID, state: NIOLockedValueBox<State>, forwarder: ReplicaRouter?, ticker: ReplicaTicker, limits: SpoolLimits) {
        self.ticker = ticker
        self.driver = driver
        self.node = node
        self.state = state
        self.forwarder = forwarder
        self.limits = limits
    }

    /// Opens the metadata group's log in the broker database at `path` (created and migrated if
    /// needed; `raft_log` and `raft_state` of the broker schema) on a storage thread of `pool`,
    /// rebuilds the metadata from its committed entries, and starts the replica. Register
    /// `driver` with the broker's `ReplicaRouter`.
    public static func open(
        path: String, config: ReplicaConfig, pool: NIOThreadPool, ticker: ReplicaTicker, sender: any RaftMessageSender,
        forwarder: ReplicaRouter? = nil, limits: SpoolLimits = SpoolLimits()
    ) async throws -> MetadataReplica {
        let state = NIOLockedValueBox(State(metadata: ClusterMetadata(voters: config.raft.voters)))
        let node = config.raft.id
        let onApply: ReplicaApply = { entries, _ in Self.applyCommitted(entries, state: state, node: node, limits: limits) }
        let driver = try await pool.runIfActive { () throws -> ReplicaDriver in
            let store = try RaftLogStore.openMetadata(path: path, voters: config.raft.voters)
            // The committed entries, applied before the node runs (it will not hand them again).
            let commit = store.hardState().commit
            if commit >= store.firstIndex() {
                let entries = try store.entries(from: store.firstIndex(), upTo: commit + 1, maxBytes: .max)
                state.withLockedValue { state in
                    for entry in entries { Self.apply(entry, to: &state.metadata, limits: limits) }
                }
            }
            do {
                return try ReplicaDriver.openNow(
                    store: store, group: .metadata, config: config, pool: pool, ticker: ticker, sender: sender, onApply: onApply)
            } catch {
                store.connection.close()
                throw error
            }
        }
        return MetadataReplica(driver: driver, node: node, state: state, forwarder: forwarder, ticker: ticker, limits: limits)
    }

    /// Calls `listener` after every apply from now on, on the storage thread that applied, with
    /// the metadata as it then is (the broker opens and drops partition replicas from it).
    public func onApply(_ listener: @escaping @Sendable (ClusterMetadata) -> Void) {
        state.withLockedValue { $0.listeners.append(listener) }
    }

    /// The metadata as this broker has applied it.
    public var metadata: ClusterMetadata { state.withLockedValue { $0.metadata } }

    /// Proposes `command` and returns its outcome once this broker has applied it (committed by
    /// a majority). On a follower the entry is forwarded to the leader this replica knows of
    /// (`PeerService.proposeMetadata`); the outcome still comes from this broker's own apply, found
    /// by the request id in front of the entry. Fails with `timedOut` when no outcome came within
    /// `timeoutMs` (no leader or no quorum: the command may still apply later), `notLeader` when
    /// no leader is known, or the other `ReplicaError`s.
    public func propose(_ command: MetadataCommand, timeoutMs: Int64) async throws(ReplicaError) -> ClusterMetadata.Outcome {
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<ClusterMetadata.Outcome, ReplicaError>, Never>) in
            propose(command, timeoutMs: timeoutMs) { continuation.resume(returning: $0) }
        }
        return try result.get()
    }

    /// `propose`, with the outcome given to `finish` (once, on a storage thread or an event loop).
    public func propose(
        _ command: MetadataCommand, timeoutMs: Int64, _ finish: @escaping @Sendable (Result<ClusterMetadata.Outcome, ReplicaError>) -> Void
    ) {
        // The closure sits inside a struct, not as the box's own value (see TidyTests'
        // "no closure is the value of a lock box").
        let once = NIOLockedValueBox(Once(finish: finish))
        let finishOnce: @Sendable (Result<ClusterMetadata.Outcome, ReplicaError>) -> Void = { result in
            once.withLockedValue { $0.finish.take() }?(result)
        }
        let sequence = state.withLockedValue { state -> UInt64 in
            state.nextSequence += 1
            state.waiting[state.nextSequence] = finishOnce
            return state.nextSequence
        }
        let fail: @Sendable (ReplicaError) -> Void = { [state] error in
            state.withLockedValue { $0.waiting.removeValue(forKey: sequence) }?(.failure(error))
        }
        ticker.eventLoop.scheduleTask(in: .milliseconds(timeoutMs)) { fail(.timedOut(ms: timeoutMs)) }
        var payload: [UInt8] = []
        withUnsafeBytes(of: node.rawValue.bigEndian) { payload.append(contentsOf: $0) }
        withUnsafeBytes(of: sequence.bigEndian) { payload.append(contentsOf: $0) }
        payload.append(contentsOf: command.payload)
        let entry = payload
        let deadline = WallClock.monotonicNs() + UInt64(timeoutMs) * 1_000_000
        // Until the group has a leader (just after start, or during an election) the proposal is
        // tried again every 50 ms; it is never sent twice where it may have been proposed once.
        @Sendable func attempt() {
            let retry: @Sendable (ReplicaError) -> Void = { [ticker, state] error in
                guard WallClock.monotonicNs() + 50_000_000 < deadline, state.withLockedValue({ $0.waiting[sequence] != nil }) else {
                    return fail(error)
                }
                ticker.eventLoop.scheduleTask(in: .milliseconds(50)) { attempt() }
            }
            driver.propose(entry: .configuration, payload: entry) { [forwarder] event in
                guard case .failed(let error) = event else { return }
                guard case .notLeader(let leader) = error else { return fail(error) }
                guard leader != .none, let forwarder else { return retry(error) }
                forwarder.request(.proposeMetadata, entry, to: leader, timeoutMs: timeoutMs) { result in
                    switch result {
                    case .success(let reply) where reply.isEmpty: return  // proposed: the apply answers
                    case .success(let reply): fail(.forwardFailed(String(decoding: reply, as: UTF8.self)))
                    case .failure(.unreachable): retry(error)  // nothing was sent
                    case .failure(let error): fail(.forwardFailed("\(error)"))
                    }
                }
            }
        }
        attempt()
    }

    /// Serves a follower's forwarded proposal (`PeerService.proposeMetadata`): proposed as it
    /// came when it is a command this build reads, and answered with nothing once the leader put
    /// it in its log, or with the reason it did not. An entry that does not parse is refused
    /// here: committed, it would stop every broker's metadata group.
    public func proposeForwarded(_ entry: [UInt8], reply: @escaping @Sendable ([UInt8]) -> Void) {
        guard entry.count > 16, MetadataCommand(payload: Array(entry[16...]), limits: limits) != nil else {
            return reply(Array("not a metadata command this broker reads".utf8))
        }
        let once = NIOLockedValueBox(false)
        driver.propose(entry: .configuration, payload: entry) { event in
            let answer: [UInt8]? =
                switch event {
                case .accepted: []
                case .failed(let error): Array("\(error)".utf8)
                default: nil
                }
            guard let answer, once.withLockedValue({ done in defer { done = true }; return !done }) else { return }
            reply(answer)
        }
    }

    // MARK: Apply

    /// The driver committed `entries` (storage thread): applied, and each proposer of this broker told.
    private static func applyCommitted(_ entries: [Entry], state: NIOLockedValueBox<State>, node: NodeID, limits: SpoolLimits) {
        var told: [(ClusterMetadata.Outcome, @Sendable (Result<ClusterMetadata.Outcome, ReplicaError>) -> Void)] = []
        let (listeners, metadata) = state.withLockedValue { state in
            for entry in entries where entry.index > state.metadata.appliedIndex {
                guard let (_, outcome, requester) = Self.apply(entry, to: &state.metadata, limits: limits), requester.node == node,
                    let waiter = state.waiting.removeValue(forKey: requester.sequence)
                else { continue }
                told.append((outcome, waiter))
            }
            return (state.listeners, state.metadata)
        }
        // Listeners first: a proposer told its topic exists finds its replicas opened.
        for listener in listeners { listener(metadata) }
        for (outcome, waiter) in told { waiter(.success(outcome)) }
    }

    /// Applies one committed entry: a command (returned with its outcome and requester), or any
    /// other kind skipped. A command this build cannot read stops the process: brokers must
    /// never hold different metadata.
    @discardableResult
    private static func apply(
        _ entry: Entry, to metadata: inout ClusterMetadata, limits: SpoolLimits
    ) -> (MetadataCommand, ClusterMetadata.Outcome, (node: NodeID, sequence: UInt64))? {
        guard entry.kind == .configuration else {
            metadata.skip(entry.index)
            return nil
        }
        let payload = entry.payload
        guard payload.count > 16, let command = MetadataCommand(payload: Array(payload[16...]), limits: limits) else {
            preconditionFailure("metadata entry \(entry.index) is not a command this build can read")
        }
        let node = payload[0 ..< 8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let sequence = payload[8 ..< 16].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let outcome = metadata.apply(command, at: entry.index)
        return (command, outcome, (NodeID(node), sequence))
    }
}

/// A callback to run at most once (`MetadataReplica.propose`).
private struct Once {
    var finish: (@Sendable (Result<ClusterMetadata.Outcome, ReplicaError>) -> Void)?
}
