public import Hemera

/// `{topic: "users", cmd: "get", id}`: one user; an unknown id fails with ``NotFound``
/// (`NotFound`, code `E_NOT_FOUND`).
public struct GetUser: HemeraPattern, HemeraValidatable {
    public static let topic = "users"
    public static let cmd: String? = "get"
    public typealias Reply = User

    public var id: Int

    public init(id: Int) {
        self.id = id
    }

    /// Ids are integers >= 0.
    public static let rules: [ValidationRule<GetUser>] = [.range("id", \.id, 0...Int.max)]
}

/// Implements ``GetUser``.
struct GetUserAction: HemeraAction {
    let store: UserStore

    func handle(_ request: GetUser, context: HemeraContext) async throws -> User {
        guard let user = store.user(id: request.id) else { throw NotFound(kind: "user", id: request.id) }
        return user
    }
}
