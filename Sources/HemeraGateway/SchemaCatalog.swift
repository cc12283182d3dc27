import Hemera
import HemeraJSON
import HemeraNATS
import Synchronization

/// The request schemas of the running services, found through the NATS services API: every
/// Hemera service answers `$SRV.INFO` with one endpoint per action, whose metadata holds the
/// action's `pattern` (its fixed keys, as JSON text) and `request_schema` (JSON Schema draft
/// 2020-12, as JSON text). The gateway asks at start and again when the OpenAPI document is
/// asked for and the last answer is older than ``maxAge``.
final class SchemaCatalog: Sendable {
    /// One action as a service describes it.
    struct Action: Sendable {
        /// The fixed keys of its pattern.
        var pattern: [String: JSONValue]
        /// Its request schema, when the service publishes one.
        var requestSchema: JSONValue?
        /// The service's name and version.
        var service: String
        var version: String
    }

    private struct State {
        var actions: [String: Action] = [:]
        var refreshedAt: ContinuousClock.Instant?
    }

    private let state = Mutex(State())

    /// How long an answer is used before the document asks again.
    let maxAge: Duration = .seconds(10)

    /// The actions found, by ``key(of:)`` of their fixed keys.
    var actions: [String: Action] { state.withLock { $0.actions } }

    /// The action whose fixed keys are `pattern`, if a service described it.
    func action(for pattern: [String: JSONValue]) -> Action? {
        state.withLock { $0.actions[Self.key(of: pattern)] }
    }

    /// A canonical text of fixed keys: sorted `key=value` pairs.
    static func key(of pattern: [String: JSONValue]) -> String {
        pattern.keys.sorted().map { key in
            let value = pattern[key].flatMap { try? $0.serialized() } ?? []
            return key + "=" + String(decoding: value, as: UTF8.self)
        }.joined(separator: ",")
    }

    /// Asks again when the last answer is older than ``maxAge``.
    func refreshIfStale(on hemera: Hemera, timeout: Duration) async {
        let stale = state.withLock { state in
            state.refreshedAt.map { ContinuousClock.now - $0 > maxAge } ?? true
        }
        if stale { await refresh(on: hemera, timeout: timeout) }
    }

    /// Sends `$SRV.INFO` and keeps every endpoint described in the replies that come within
    /// `timeout`. Over a transport other than NATS, or when no service answers, the catalog is
    /// left empty: the document then shows each body as a plain JSON object.
    func refresh(on hemera: Hemera, timeout: Duration) async {
        guard let connection = (hemera.transport as? NATSTransport)?.connection else { return }
        var found: [String: Action] = [:]
        do {
            for try await reply in connection.requestMany(
                to: "$SRV.INFO",
                payload: [],
                timeout: timeout,
                maxReplies: nil
            ) {
                guard let info = try? JSONValue(parsing: reply.payload) else { continue }
                for action in Self.actions(inInfo: info) { found[Self.key(of: action.pattern)] = action }
            }
        } catch {
            // No responders (no service runs) or a timeout with no reply: nothing described.
        }
        state.withLock { state in
            state.actions = found
            state.refreshedAt = .now
        }
    }

    /// The endpoints of one ADR-32 INFO reply that carry a Hemera pattern.
    static func actions(inInfo info: JSONValue) -> [Action] {
        guard case .array(let endpoints)? = info["endpoints"] else { return [] }
        let service = info["name"]?.stringValue ?? ""
        let version = info["version"]?.stringValue ?? ""
        return endpoints.compactMap { endpoint in
            guard let metadata = endpoint["metadata"], let patternText = metadata["pattern"]?.stringValue,
                case .object(let pattern)? = try? JSONValue(parsing: Array(patternText.utf8))
            else { return nil }
            let schema = metadata["request_schema"]?.stringValue.flatMap { try? JSONValue(parsing: Array($0.utf8)) }
            return Action(pattern: pattern, requestSchema: schema, service: service, version: version)
        }
    }
}
