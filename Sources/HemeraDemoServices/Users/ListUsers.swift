public import Hemera

/// `{topic: "users", cmd: "list"}`: every user.
public struct ListUsers: HemeraPattern {
    public static let topic = "users"
    public static let cmd: String? = "list"
    public typealias Reply = [User]

    public init() {}
}

/// Implements ``ListUsers``.
struct ListUsersAction: HemeraAction {
    let store: UserStore

    func handle(_ request: ListUsers, context: HemeraContext) async throws -> [User] {
        store.all
    }
}
